"""Where the listening test writes: a folder, checked before any work and created on demand."""

from __future__ import annotations

from pathlib import Path

from console.errors import ConsoleError


def check_output_folder(path: Path, what: str) -> None:
    """Refuse a ``path`` that is a file or lies under one, before anything is read or built."""
    if path.exists() and not path.is_dir():
        raise ConsoleError(
            f"The {what} {path} is an existing file; give -o a folder (a new one is created)."
        )
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise ConsoleError(
                    f"Cannot make the {what} {path}: {parent} is a file; give -o another "
                    f"folder."
                )
            return


def make_output_folder(path: Path, what: str) -> None:
    """Create ``path`` as a folder, or say in one sentence why it cannot be one."""
    check_output_folder(path, what)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConsoleError(
            f"Cannot make the {what} {path} ({exc.strerror or exc}); give -o another folder."
        ) from exc
