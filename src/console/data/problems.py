"""How the data loaders report a bad file: one warning class, one sentence with the path."""

from __future__ import annotations

import warnings
from pathlib import Path


class DataWarning(UserWarning):
    """A file or song that a data loader skipped or repaired; the message names the file."""


def report(path: str | Path, problem: str, action: str) -> None:
    """Warn ``"<path>: <problem>; <action>."`` so the user can find and fix the file."""
    warnings.warn(f"{path}: {problem}; {action}.", DataWarning, stacklevel=3)
