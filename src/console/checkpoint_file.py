"""Reading a torch checkpoint file safely, with one readable error for every failure.

Also the checks every kind of checkpoint shares: weights must be finite, and
weights left out of a file (because the installation rebuilds them) are
recognised again by a fingerprint.
"""

from __future__ import annotations

import hashlib
import re
import warnings
from collections.abc import Mapping
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
        with warnings.catch_warnings():  # torch's notes on pickle protocols are not for users
            warnings.simplefilter("ignore")
            return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError as exc:
        raise CheckpointError(f"The {what} {path} does not exist.") from exc
    except IsADirectoryError as exc:
        raise CheckpointError(f"The {what} {path} is a folder; give the file in it.") from exc
    except PermissionError as exc:
        raise CheckpointError(f"Cannot read the {what} {path}: permission denied.") from exc
    except Exception as exc:
        raise CheckpointError(_unreadable(path, what, exc)) from exc


def _unreadable(path: Path, what: str, exc: Exception) -> str:
    """One sentence for a file torch cannot load safely.

    torch's own message is not shown: for a file holding anything but weights it suggests
    loading with ``weights_only=False``, which runs whatever code the file holds.
    """
    blocked = re.search(r"unsupported GLOBAL (\S+)", str(exc))
    if blocked:
        return (
            f"The {what} {path} holds Python objects other than weights "
            f"({blocked.group(1)}), which console does not load because loading them can "
            f"run code; give a file console saved (or save the weights as plain tensors)."
        )
    size = path.stat().st_size if path.is_file() else 0
    return (
        f"The {what} {path} is damaged or not a torch checkpoint ({size} bytes that torch "
        f"cannot read as one: truncated, overwritten, or another kind of file); use an "
        f"intact copy or save it again."
    )


def state_dict_of(data: Mapping[str, Any], source: str) -> dict[str, torch.Tensor]:
    """``data["state_dict"]``, checked to be named tensors with finite values."""
    state = data.get("state_dict")
    if not isinstance(state, Mapping) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        raise CheckpointError(
            f"{source} holds no state_dict of named weight tensors; it is damaged or was not "
            f"written by console: save it again."
        )
    check_finite(state, source)
    return dict(state)


def check_finite(state: Mapping[str, Any], source: str) -> None:
    """Refuse NaN or infinite weights: they would mix to silence or noise with no error."""
    bad = [
        name for name, value in state.items()
        if isinstance(value, torch.Tensor)
        and (value.is_floating_point() or value.is_complex())
        and not bool(torch.isfinite(value).all())
    ]
    if bad:
        more = f" and {len(bad) - 3} more" if len(bad) > 3 else ""
        raise CheckpointError(
            f"{source} holds NaN or infinite weights ({', '.join(bad[:3])}{more}), as a "
            f"training run that diverged leaves; use an earlier checkpoint or retrain."
        )


def fingerprint(tensors: Mapping[str, torch.Tensor]) -> str:
    """SHA-256 of the names, dtypes, shapes and bytes of ``tensors`` (order-independent)."""
    digest = hashlib.sha256()
    for name in sorted(tensors):
        value = tensors[name].detach().cpu().contiguous()
        digest.update(f"{name}|{value.dtype}|{tuple(value.shape)}|".encode())
        digest.update(value.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()
