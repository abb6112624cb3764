"""The export folder: checked before any work, built aside, moved into place at the end.

A session folder is where an engineer keeps working (Ardour saves edits and
recordings into it), so an existing one is never replaced without ``--force``,
and even then only if this command wrote it (it carries :data:`MARKER`). The new
folder is built beside the target under a hidden name and renamed into place
when complete, so an error or an interrupt leaves the old folder as it was.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from console.errors import ConsoleError

#: A file in every export folder, naming what wrote it; ``--force`` replaces only such folders.
MARKER = ".console-export.json"
_ILLEGAL = re.compile(r"[/\\:;\x00-\x1f\x7f]")


class ExportFolderError(ConsoleError, ValueError):
    """An export folder that cannot or must not be written."""


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def check_export_folder(
    folder: str | Path, force: bool = False, inputs: Iterable[str | Path] = ()
) -> Path:
    """Refuse a folder Ardour cannot name, that exists (without ``--force``), or holds inputs."""
    folder = Path(folder)
    resolved = folder.resolve()
    name = resolved.name
    if not name or _ILLEGAL.search(name):
        raise ExportFolderError(
            f"Ardour cannot name a session {name!r}; choose a folder name without / \\ : ; "
            f"or control characters."
        )
    for item in inputs:
        item = Path(item).resolve()
        if _inside(item, resolved) or _inside(resolved, item):
            raise ExportFolderError(
                f"The export folder {folder} and the input {item} overlap; writing the session "
                f"there could destroy the input. Choose another folder."
            )
    if folder.exists() and not folder.is_dir():
        raise ExportFolderError(f"{folder} is a file, not a folder; choose another name.")
    if folder.exists():
        if not force:
            raise ExportFolderError(
                f"{folder} already exists; choose another folder, or replace it with "
                f"`console export ... --force`."
            )
        if not (folder / MARKER).is_file():
            raise ExportFolderError(
                f"{folder} exists and was not written by `console export`, so even --force will "
                f"not replace it; choose another folder or remove it yourself."
            )
    parent = resolved.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise ExportFolderError(f"Cannot write the export folder {folder}: {parent} is not "
                                f"writable; choose another place.")
    return folder


@contextmanager
def building(folder: str | Path, marker: dict) -> Iterator[Path]:
    """Yield a hidden folder to fill; on success it replaces ``folder``, else it is removed.

    The marker is written last, so a folder without it was never finished.
    """
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".building",
                                 dir=folder.parent))
    umask = os.umask(0)
    os.umask(umask)
    work.chmod(0o777 & ~umask)  # mkdtemp makes 0700; give the folder the usual permissions
    try:
        yield work
        (work / MARKER).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
        old = None
        if folder.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".replaced",
                                        dir=folder.parent))
            os.replace(folder, old / folder.name)
        os.replace(work, folder)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)
