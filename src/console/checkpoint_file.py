"""Reading a torch checkpoint file safely, with one readable error for every failure."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from console.errors import CheckpointError


def read_checkpoint(path: str | Path, what: str = "checkpoint") -> Any:
    """``torch.load`` with ``weights_only=True`` on the CPU; failures become CheckpointError.

    ``what`` names the file in the message ("checkpoint", "VGGish weights", ...).
    """
    path = Path(path)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError as exc:
        raise CheckpointError(f"The {what} {path} does not exist.") from exc
    except Exception as exc:
        raise CheckpointError(
            f"Cannot read the {what} {path}: {type(exc).__name__}: {exc}"
        ) from exc
