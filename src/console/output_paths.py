"""Where a command writes: checked before any work, replaced only by one rule.

A mix takes minutes; finding out at the end that ``-o`` names a folder, sits
under a file, or is one of the stems it just read wastes the work or, worse,
destroys an input. These checks run first and answer in one sentence.

The rule every writer follows: an existing file or folder that console did not
write, or that changed since it wrote it (see :mod:`console.manifest`), is never
replaced or deleted without ``--force``; ``--force`` on a folder moves what
console did not write aside to a named ``NAME.kept`` folder instead of deleting
it. Output written by console and left unchanged may be written again.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import attrs

from console import manifest
from console.atomic import NAME_MAX, temporary_beside
from console.errors import ConsoleError


class OutputPathError(ConsoleError, ValueError):
    """An output path that cannot or must not be written."""


def check_output_file(path: str | Path, what: str = "output") -> Path:
    """Refuse a path that is a folder, lies under a file, or sits where we cannot write."""
    path = Path(path)
    _check_name_lengths(path, what)
    if path.is_dir():
        raise OutputPathError(
            f"The {what} {path} is a folder; give a file name inside it, e.g. {path / 'mix.wav'}."
        )
    _check_place(path, what)
    if path.exists() and not os.access(path, os.W_OK):
        raise OutputPathError(f"Cannot replace the {what} {path}: it is read-only.")
    return path


def check_output_folder(path: str | Path, what: str = "output folder") -> Path:
    """Refuse a folder path that is a file, lies under a file, or sits where we cannot write."""
    path = Path(path)
    _check_name_lengths(path, what)
    if os.path.lexists(path) and not path.is_dir():
        raise OutputPathError(f"The {what} {path} is a file, not a folder; choose a folder name.")
    if path.is_dir():
        if not os.access(path, os.W_OK | os.X_OK) or _is_virtual(path):
            raise OutputPathError(
                f"Cannot write into the {what} {path}: it is not writable; choose another place."
            )
        return path
    _check_place(path, what)
    return path


def _check_name_lengths(path: Path, what: str) -> None:
    """Refuse a name longer than file systems take (checking the path would fail with
    ENAMETOOLONG, a traceback)."""
    for part in path.parts:
        size = len(os.fsencode(part))
        if size > NAME_MAX:
            shown = part if len(part) <= 40 else f"{part[:20]}...{part[-12:]}"
            raise OutputPathError(
                f"Cannot write the {what}: the name {shown!r} is {size} bytes long, and file "
                f"systems take at most {NAME_MAX}; choose a shorter name."
            )


def _check_place(path: Path, what: str) -> None:
    """The nearest existing folder above ``path`` must be a writable folder."""
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


# -- the one rule: what console did not write is never replaced without --force ----------


def check_replace(path: str | Path, *, force: bool, what: str, edited: str = "") -> None:
    """Refuse, before any work, to replace a file console did not write or that changed since.

    ``edited`` is said after "has changed since console wrote it", e.g. what the
    user's edits are for.
    """
    if force:
        return
    found = manifest.state(path)
    if found == "foreign":
        raise OutputPathError(
            f"The {what} {path} already exists and was not written by console; choose another "
            f"name, or add --force to replace it."
        )
    if found == "changed":
        raise OutputPathError(
            f"The {what} {path} has changed since console wrote it{edited}; choose another "
            f"name, or add --force to replace it."
        )


@contextmanager
def replacing(
    path: str | Path, *, force: bool, what: str, by: str, edited: str = ""
) -> Iterator[Path]:
    """Yield a temporary file beside ``path`` to write; then put it at ``path`` by the rule.

    The rule is checked again under the folder's lock just before the file is
    moved into place (another run, or the user, may have written ``path`` in the
    meantime), and the new file is recorded as console's.
    """
    path = Path(path)
    with temporary_beside(path) as tmp:
        yield tmp
        with manifest.locked(path.parent):
            check_replace(path, force=force, what=what, edited=edited)
            os.replace(tmp, path)
            manifest.record_locked(path.parent, [path], by)


def write_file(
    path: str | Path, write: Callable[[Path], None], *, force: bool, what: str, by: str,
    edited: str = "",
) -> None:
    """Call ``write(tmp)`` and put the result at ``path`` by the rule (:func:`replacing`)."""
    with replacing(path, force=force, what=what, by=by, edited=edited) as tmp:
        write(tmp)


@attrs.frozen
class Installed:
    """Where a folder went, and where the user's files in the folder it replaced went."""

    folder: Path
    #: ``NAME.kept``: what the replaced folder held that console did not write (or None).
    kept: Path | None = None
    kept_files: tuple[str, ...] = ()

    def describe_kept(self) -> str | None:
        if self.kept is None:
            return None
        shown = ", ".join(self.kept_files[:3]) + (", ..." if len(self.kept_files) > 3 else "")
        return (f"moved {len(self.kept_files)} file(s) that console did not write in "
                f"{self.folder}, or that changed since ({shown}), to {self.kept}")


def is_ours_folder(folder: Path, also_ours: Sequence[str] = ()) -> bool:
    """Whether console wrote ``folder`` (it has a manifest, or a marker of an older console)."""
    return manifest.has_manifest(folder) or any((folder / m).is_file() for m in also_ours)


def check_folder(
    folder: str | Path, *, force: bool, replace_unchanged: bool, what: str, command: str,
    also_ours: Sequence[str] = (),
) -> Path:
    """Refuse, before any work, an existing ``folder`` the rule does not let us replace.

    A folder console never wrote is refused even with ``--force``. Without it, one
    console wrote is refused too, unless ``replace_unchanged`` and nothing in it
    changed; with it, what console did not write is moved aside at the end.
    """
    folder = Path(folder)
    if os.path.lexists(folder) and (folder.is_symlink() or not folder.is_dir()):
        raise OutputPathError(
            f"The {what} {folder} is a file, not a folder; choose another name."
        )
    if not folder.exists():
        return folder
    if not is_ours_folder(folder, also_ours):
        raise OutputPathError(
            f"{folder} exists and was not written by `{command}`, so even --force will not "
            f"replace it; choose another folder or remove it yourself."
        )
    if force:
        return folder
    if replace_unchanged:
        changed = manifest.not_ours(folder)
        if not changed:
            return folder
        raise OutputPathError(
            f"{folder} holds {len(changed)} file(s) console did not write or that changed since "
            f"(e.g. {changed[0]}); choose another folder, or add --force to replace it (those "
            f"files are then moved aside to {folder.name}.kept, not deleted)."
        )
    raise OutputPathError(
        f"{folder} already exists; choose another folder, or replace it with `{command} ... "
        f"--force` (files you added or changed there are moved aside, not deleted)."
    )


def install_folder(
    work: Path, folder: str | Path, *, force: bool, replace_unchanged: bool, what: str,
    command: str, about: dict | None = None, also_ours: Sequence[str] = (),
) -> Installed:
    """Move the complete folder ``work`` (from :func:`console.manifest.building`) to ``folder``.

    Every file in ``work`` is recorded as console's first. Under the parent's lock,
    a new ``folder`` is simply created. An existing one is replaced only as
    :func:`check_folder` allows, checked again now; what console did not write in
    it, or that changed, is moved to a visible ``NAME.kept`` folder, never deleted.
    A ``folder`` that appeared while this run worked is left alone without ``--force``.
    """
    folder = Path(folder)
    manifest.seal(work, command, about)
    with manifest.locked(folder.parent):
        if not os.path.lexists(folder):
            os.rename(work, folder)
            return Installed(folder)
        if not force and not replace_unchanged:
            raise OutputPathError(
                f"{folder} appeared while this run worked (another run writing the same "
                f"folder?); it was left as it is; choose another folder, or add --force to "
                f"replace it."
            )
        check_folder(folder, force=force, replace_unchanged=replace_unchanged, what=what,
                     command=command, also_ours=also_ours)
        if not manifest.not_ours(folder):
            aside = manifest.replaced_name(folder)
            os.replace(folder, aside)
            os.replace(work, folder)
            shutil.rmtree(aside.parent, ignore_errors=True)
            return Installed(folder)
        kept = manifest.kept_name(folder.parent, folder.name)
        os.replace(folder, kept)
        os.replace(work, folder)
        return Installed(folder, kept, tuple(manifest.prune_ours(kept)))


def install_new_folder(
    work: Path, parent: str | Path, names: Iterable[str], *, command: str,
    about: dict | None = None,
) -> Path:
    """Move the complete folder ``work`` to the first of ``names`` not yet in ``parent``.

    For writers that add and never replace (``make-sessions`` appending songs):
    the name is chosen under the parent's lock, so two runs never take the same one.
    """
    parent = Path(parent)
    manifest.seal(work, command, about)
    with manifest.locked(parent):
        for name in names:
            target = parent / name
            if not os.path.lexists(target):
                os.rename(work, target)
                return target
    raise OutputPathError(f"No free name left in {parent} for the new folder.")
