"""What console wrote: a manifest per folder, so a later run tells its own files from a user's.

Every writer records each file it puts in a folder in that folder's
:data:`MANIFEST`: its path relative to the folder, size and SHA-256 (and the
``stat`` fields that let an unchanged file be recognised without reading it).
A file is *ours* when the manifest lists it with the same contents; a file the
manifest does not list, or whose contents differ, belongs to the user. The rule
that uses this (:mod:`console.output_paths`) never replaces or deletes the
user's files without ``--force``.

Folders are built under a hidden name beside their target (:func:`building`),
locked while they are built, so a later run can tell the leftovers of a killed
run (unlocked) from a build still in progress (locked) and remove only those.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import attrs

from console.atomic import atomic_write_text

try:  # POSIX; elsewhere nothing is locked
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

#: The manifest of a folder: the files console wrote in it and below it.
MANIFEST = ".console-manifest.json"
FORMAT = "console-manifest"
#: A file inside a folder that is being built; removed when the folder is complete.
BUILDING = ".console-building"
_BUILD_SUFFIX = ".building"
_REPLACED_SUFFIX = ".replaced"


@attrs.frozen
class Entry:
    """One file as console wrote it."""

    size: int
    sha256: str
    #: ``stat`` fields: when all are unchanged the file is, without reading it.
    mtime_ns: int = 0
    ctime_ns: int = 0
    inode: int = 0
    by: str = "console"


def digest(path: str | Path) -> str:
    with open(path, "rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def entry_for(path: str | Path, by: str) -> Entry:
    st = os.lstat(path)
    return Entry(st.st_size, digest(path), st.st_mtime_ns, st.st_ctime_ns, st.st_ino, by)


def read(folder: str | Path) -> dict[str, Entry]:
    """The manifest of ``folder``; a missing or damaged one lists nothing (nothing is ours)."""
    try:
        data = json.loads((Path(folder) / MANIFEST).read_text(encoding="utf-8"))
        if data.get("format") != FORMAT:
            return {}
        return {str(name): Entry(**fields) for name, fields in data["files"].items()}
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return {}


def _write(folder: Path, entries: dict[str, Entry], about: dict | None = None) -> None:
    data: dict = {"format": FORMAT}
    old = _about(folder)
    if about or old:
        data["about"] = about or old
    data["files"] = {name: attrs.asdict(e) for name, e in sorted(entries.items())}
    atomic_write_text(folder / MANIFEST, json.dumps(data, indent=1) + "\n")


def _about(folder: Path) -> dict | None:
    try:
        about = json.loads((folder / MANIFEST).read_text(encoding="utf-8")).get("about")
    except (OSError, ValueError, AttributeError):
        return None
    return about if isinstance(about, dict) else None


def has_manifest(folder: str | Path) -> bool:
    return (Path(folder) / MANIFEST).is_file()


def unchanged(path: str | Path, entry: Entry) -> bool:
    """Whether the file at ``path`` still holds what ``entry`` records."""
    try:
        st = os.lstat(path)
    except OSError:
        return False
    if not _is_plain_file(st.st_mode) or st.st_size != entry.size:
        return False
    if (st.st_mtime_ns, st.st_ctime_ns, st.st_ino) == (entry.mtime_ns, entry.ctime_ns,
                                                       entry.inode):
        return True
    try:
        return digest(path) == entry.sha256
    except OSError:
        return False


def _is_plain_file(mode: int) -> bool:
    return stat.S_ISREG(mode)


def state(path: str | Path) -> str:
    """``"absent"``, ``"ours"`` (written by console, unchanged), ``"changed"`` or ``"foreign"``.

    A file is looked up in the manifest of the folder that holds it.
    """
    path = Path(path)
    if not os.path.lexists(path):
        return "absent"
    if path.is_symlink() or not path.is_file():
        return "foreign"
    entry = read(path.parent).get(path.name)
    if entry is None:
        return "foreign"
    return "ours" if unchanged(path, entry) else "changed"


def record(folder: str | Path, files: Iterable[str | Path], by: str) -> None:
    """Add ``files`` (inside ``folder``) to its manifest as they are now. Locks the folder."""
    folder = Path(folder)
    with locked(folder):
        record_locked(folder, files, by)


def record_locked(folder: Path, files: Iterable[str | Path], by: str) -> None:
    """:func:`record` for a caller that holds :func:`locked` on ``folder``."""
    entries = read(folder)
    for file in files:
        entries[Path(os.path.relpath(file, folder)).as_posix()] = entry_for(file, by)
    _write(folder, entries)


def _walk(folder: Path) -> Iterator[str]:
    """Every file, link or other non-folder below ``folder``, as a relative posix path."""
    for root, dirs, files in os.walk(folder, followlinks=False):
        base = Path(root)
        for name in [*files, *(d for d in dirs if (base / d).is_symlink())]:
            yield (base / name).relative_to(folder).as_posix()


def seal(folder: str | Path, by: str, about: dict | None = None) -> None:
    """Record every file below ``folder`` (a folder console has just built) as ours."""
    folder = Path(folder)
    (folder / BUILDING).unlink(missing_ok=True)
    entries = {
        name: entry_for(folder / name, by)
        for name in _walk(folder) if name != MANIFEST
    }
    _write(folder, entries, about)


def not_ours(folder: str | Path) -> list[str]:
    """Files below ``folder`` that console did not write there, or that changed since."""
    folder = Path(folder)
    entries = read(folder)
    return sorted(
        name for name in _walk(folder)
        if name != MANIFEST and not (name in entries and unchanged(folder / name,
                                                                     entries[name]))
    )


@contextmanager
def locked(folder: str | Path) -> Iterator[None]:
    """Hold an exclusive lock on ``folder`` (advisory, between console processes and threads).

    Not re-entrant: a caller that holds it must not take it again.
    """
    fd = _lock(Path(folder), block=True)
    try:
        yield
    finally:
        if fd is not None:
            os.close(fd)


def _lock(folder: Path, block: bool) -> int | None:
    """An open descriptor of ``folder`` holding its lock; ``None`` where locks do not work.

    Raises ``BlockingIOError`` when ``block`` is false and another holds it.
    """
    if fcntl is None:  # pragma: no cover
        return None
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if block else fcntl.LOCK_NB))
    except BlockingIOError:
        os.close(fd)
        raise
    except OSError:  # a file system without locks: go on unlocked
        os.close(fd)
        return None
    return fd


def _leftover_pattern(name: str, suffix: str) -> re.Pattern[str]:
    return re.compile(rf"\.{name}\.[a-z0-9_]{{8}}{re.escape(suffix)}")


def remove_stale(parent: str | Path, name: str) -> list[Path]:
    """Remove what killed runs left beside ``parent/NAME``: hidden building folders.

    ``name`` is a regular expression of target names. Only folders that are
    clearly ours (the hidden name, with :data:`BUILDING` inside) and stale (no
    living process holds their lock) are removed. A folder a replacement had
    moved aside is removed if it holds only our unchanged files, else renamed to
    a visible ``NAME.kept`` folder. Returns what was removed or renamed.
    """
    parent = Path(parent)
    if not parent.is_dir():
        return []
    found = []
    building = _leftover_pattern(name, _BUILD_SUFFIX)
    replaced = _leftover_pattern(f"({name})", _REPLACED_SUFFIX)
    with locked(parent):
        for child in sorted(parent.iterdir()):
            if child.is_symlink() or not child.is_dir():
                continue
            if building.fullmatch(child.name) and (child / BUILDING).is_file():
                try:
                    fd = _lock(child, block=False)
                except BlockingIOError:
                    continue  # a build in progress
                if fd is None:
                    continue  # no locks here, so no telling a live build from a dead one
                try:
                    shutil.rmtree(child, ignore_errors=True)
                finally:
                    os.close(fd)
                found.append(child)
            elif match := replaced.fullmatch(child.name):
                # Only ever there while a replacement holds the parent's lock: a killed one.
                for old in list(child.iterdir()):
                    if old.is_dir() and not old.is_symlink() and not not_ours(old):
                        shutil.rmtree(old, ignore_errors=True)
                    else:
                        os.replace(old, kept_name(parent, match.group(1)))
                with suppress(OSError):
                    child.rmdir()
                found.append(child)
    return found


@contextmanager
def building(target: str | Path) -> Iterator[Path]:
    """Yield a new hidden, locked folder beside ``target`` to fill; removed unless moved away.

    The caller moves it into place (:func:`console.output_paths.install_folder`)
    before leaving the block.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=_BUILD_SUFFIX,
                                 dir=target.parent))
    umask = os.umask(0)
    os.umask(umask)
    work.chmod(0o777 & ~umask)  # mkdtemp makes 0700; give the folder the usual permissions
    fd = None
    try:
        (work / BUILDING).write_text(f"{os.getpid()}\n", encoding="utf-8")
        fd = _lock(work, block=False)
        yield work
    finally:
        if fd is not None:
            os.close(fd)
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)


def replaced_name(folder: Path) -> Path:
    """A new hidden folder beside ``folder`` to move it into while it is replaced."""
    return Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=_REPLACED_SUFFIX,
                                 dir=folder.parent)) / folder.name


def kept_name(parent: Path, name: str) -> Path:
    """The first free ``NAME.kept``, ``NAME.kept-2``, ... in ``parent``."""
    candidate = parent / f"{name}.kept"
    n = 2
    while os.path.lexists(candidate):
        candidate = parent / f"{name}.kept-{n}"
        n += 1
    return candidate


def prune_ours(folder: Path) -> list[str]:
    """Delete our unchanged files (and the manifest, and emptied folders) below ``folder``.

    What remains is exactly what the user added or changed; returned as relative paths.
    """
    entries = read(folder)
    for name, entry in entries.items():
        path = folder / name
        if unchanged(path, entry):
            path.unlink()
    (folder / MANIFEST).unlink(missing_ok=True)
    for root, dirs, _ in os.walk(folder, topdown=False):
        for d in dirs:
            with suppress(OSError):
                (Path(root) / d).rmdir()  # only empty ones
    return sorted(_walk(folder))
