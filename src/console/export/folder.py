"""The export folder: checked before any work, built aside, moved into place at the end.

A session folder is where an engineer keeps working (Ardour saves edits and
recordings into it), so an existing one is never replaced without ``--force``,
and even then only if console wrote it. With ``--force``, whatever console did
not write there, or that changed since (new takes, saved edits, snapshots), is
moved aside to ``NAME.kept`` and named, never deleted: the rule of
:mod:`console.output_paths`, with the folder's manifest saying what console wrote.
The new folder is built beside the target under a hidden name and renamed into
place when complete, so an error or an interrupt leaves the old folder as it
was; what a killed export left is removed by the next one.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from console import manifest
from console.errors import ConsoleError
from console.output_paths import Installed, OutputPathError, check_folder, install_folder

#: The file in every export folder that lists what console wrote there (its manifest).
MARKER = manifest.MANIFEST
#: What older versions wrote instead: such a folder is console's, but nothing in it is
#: known to be unchanged, so ``--force`` moves all of it aside.
LEGACY_MARKER = ".console-export.json"
COMMAND = "console export"
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
    if ":" in str(resolved.parent):
        raise ExportFolderError(
            f"Ardour cannot open a session under {resolved.parent}: it reads ':' in a path "
            f"as a separator between folders; export to a place whose path has no ':'."
        )
    for item in inputs:
        item = Path(item).resolve()
        if _inside(item, resolved) or _inside(resolved, item):
            raise ExportFolderError(
                f"The export folder {folder} and the input {item} overlap; writing the session "
                f"there could destroy the input. Choose another folder."
            )
    try:
        check_folder(folder, force=force, replace_unchanged=False, what="export folder",
                     command=COMMAND, also_ours=(LEGACY_MARKER,))
    except OutputPathError as exc:
        raise ExportFolderError(str(exc)) from exc
    parent = resolved.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise ExportFolderError(f"Cannot write the export folder {folder}: {parent} is not "
                                f"writable; choose another place.")
    return folder


@contextmanager
def building(folder: str | Path, say: Callable[[str], None] = lambda _: None) -> Iterator[Path]:
    """Yield a hidden folder beside ``folder`` to fill; it is removed unless :func:`finish` ran.

    Leftovers of an export of the same folder that was killed are removed first.
    """
    folder = Path(folder)
    for stale in manifest.remove_stale(folder.parent, re.escape(folder.name)):
        say(f"removed {stale.name}, left by an interrupted export")
    with manifest.building(folder) as work:
        yield work


def finish(work: Path, folder: str | Path, force: bool, about: dict) -> Installed:
    """Move the complete ``work`` to ``folder`` by the rule of :mod:`console.output_paths`."""
    try:
        return install_folder(work, folder, force=force, replace_unchanged=False,
                              what="export folder", command=COMMAND, about=about,
                              also_ours=(LEGACY_MARKER,))
    except OutputPathError as exc:
        raise ExportFolderError(str(exc)) from exc
