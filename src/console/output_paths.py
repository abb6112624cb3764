"""Checking where a command will write before it does any work.

A mix takes minutes; finding out at the end that ``-o`` names a folder, sits
under a file, or is one of the stems it just read wastes the work or, worse,
destroys an input. These checks run first and answer in one sentence.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from console.errors import ConsoleError


class OutputPathError(ConsoleError, ValueError):
    """An output path that cannot or must not be written."""


def check_output_file(path: str | Path, what: str = "output") -> Path:
    """Refuse a path that is a folder, lies under a file, or sits where we cannot write."""
    path = Path(path)
    if path.is_dir():
        raise OutputPathError(
            f"The {what} {path} is a folder; give a file name inside it, e.g. {path / 'mix.wav'}."
        )
    parent = path.parent
    existing = parent
    while not existing.exists():
        if existing.parent == existing:
            break
        existing = existing.parent
    if existing.exists() and not existing.is_dir():
        raise OutputPathError(
            f"Cannot write the {what} {path}: {existing} is a file, not a folder."
        )
    if not os.access(existing, os.W_OK | os.X_OK) or _is_virtual(existing):
        raise OutputPathError(
            f"Cannot write the {what} {path}: {existing} is not writable; choose another "
            f"place."
        )
    if path.exists() and not os.access(path, os.W_OK):
        raise OutputPathError(f"Cannot replace the {what} {path}: it is read-only.")
    return path


def _is_virtual(folder: Path) -> bool:
    """Kernel file systems (``/proc``, ``/sys``) accept no ordinary files."""
    resolved = folder.resolve()
    return any(resolved == Path(root) or Path(root) in resolved.parents
               for root in ("/proc", "/sys", "/dev"))


def refuse_inputs(
    path: str | Path, inputs: Iterable[str | Path], input_folder: str | Path | None = None,
    what: str = "output",
) -> None:
    """Refuse to write ``path`` over an input file, or into the folder the inputs come from.

    A mix written into the stems folder would be read as one more stem next time.
    """
    path = Path(path)
    target = path.resolve()
    for item in inputs:
        item = Path(item)
        if target == item.resolve() or (path.exists() and item.exists() and
                                        os.path.samefile(path, item)):
            raise OutputPathError(
                f"The {what} {path} is one of the inputs ({item}); writing it would destroy "
                f"that file. Choose another name."
            )
    if input_folder is not None and target.parent == Path(input_folder).resolve():
        raise OutputPathError(
            f"The {what} {path} would be written into the stems folder {input_folder}, where "
            f"the next mix would read it as a stem; write it elsewhere."
        )
