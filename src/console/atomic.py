"""Write files so that a crash never leaves one half-written.

A temporary file is locked (``flock``) while it is written, so the next write of
the same file can tell what a killed run left (unlocked: removed) from a write in
progress in another process (locked: left alone).
"""

from __future__ import annotations

import errno
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

try:  # POSIX; elsewhere temporaries are not locked, and leftovers are never removed
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

#: The longest file name most file systems take, in bytes.
NAME_MAX = 255
#: What a temporary name adds to the stem besides its suffix: two dots and mkstemp's 8.
_TEMPORARY_EXTRA = 10
#: A write that fails with less free space than this left where it wrote failed for space.
_FULL_BYTES = 1 << 20


def _disk_full(folder: Path) -> bool:
    try:
        found = os.statvfs(folder)
    except (OSError, AttributeError):
        return False
    return found.f_bavail * found.f_frsize < _FULL_BYTES


def temporary_parts(path: str | Path) -> tuple[str, str]:
    """The prefix and suffix of ``path``'s temporary names, ``.{stem}.`` and ``.tmp{suffix}``;
    a long stem is shortened so that the temporary name still fits :data:`NAME_MAX`."""
    path = Path(path)
    suffix = f".tmp{path.suffix}"
    room = max(1, NAME_MAX - len(os.fsencode(suffix)) - _TEMPORARY_EXTRA)
    stem = os.fsencode(path.stem)[:room].decode("utf-8", "ignore")
    return f".{stem}.", suffix


def remove_stale_temporaries(path: str | Path) -> list[Path]:
    """Remove the temporaries of ``path`` that killed runs left; returns what was removed.

    Only unlocked ones go: a temporary another process is writing holds its lock.
    Where locks do not work nothing is removed (a live write cannot be told apart).
    """
    path = Path(path)
    if fcntl is None:  # pragma: no cover
        return []
    prefix, suffix = temporary_parts(path)
    pattern = re.compile(re.escape(prefix) + r"[a-z0-9_]{8}" + re.escape(suffix))
    try:
        candidates = [c for c in path.parent.iterdir() if pattern.fullmatch(c.name)]
    except OSError:
        return []
    removed = []
    for candidate in candidates:
        if candidate.is_symlink() or not candidate.is_file():
            continue
        try:
            fd = os.open(candidate, os.O_RDONLY)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # a write in progress, or a file system without locks
            os.close(fd)
            continue
        try:
            candidate.unlink()
            removed.append(candidate)
        except OSError:
            pass
        finally:
            os.close(fd)
    return removed


@contextmanager
def temporary_beside(path: str | Path) -> Iterator[Path]:
    """Yield a new temporary file beside ``path``, removed on exit unless it was moved away.

    Its name is ``.{stem}.XXXXXXXX.tmp{suffix}``: hidden, and with ``path``'s suffix so
    libraries that infer a format from it still work. It is locked until the block ends;
    unlocked temporaries of ``path`` (a killed run's) are removed first.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    prefix, suffix = temporary_parts(path)
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=path.parent)
    if fcntl is not None:
        with suppress(OSError):  # a file system without locks: the write goes on unlocked
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    tmp_path = Path(tmp)
    try:
        umask = os.umask(0)
        os.umask(umask)
        tmp_path.chmod(0o666 & ~umask)  # mkstemp makes 0600; give the file the usual permissions
        yield tmp_path
    except Exception as exc:
        # torch and libsndfile report a full disk as a RuntimeError ("unexpected pos",
        # "System error"): say what it was, while the half-written file still takes the space
        if not isinstance(exc, OSError) and _disk_full(path.parent):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path)) from exc
        raise
    finally:
        if tmp_path.exists():
            tmp_path.unlink()
        os.close(fd)  # the lock goes with it


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it onto ``path``.

    On an exception the temporary file is removed and ``path`` is untouched.
    """
    with temporary_beside(path) as tmp_path:
        yield tmp_path
        os.replace(tmp_path, path)


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp_path)`` and move the result onto ``path`` only if it succeeds."""
    with atomic_path(path) as tmp:
        write(tmp)


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
