"""Options several commands share, checked the same way before any work.

A seed of 10^23 or -5, a ``--device`` the machine does not have, or a number of
seconds that is negative or would fill the memory each used to end in a traceback
deep inside torch or numpy; here each is one sentence naming the option.
"""

from __future__ import annotations

import argparse
import math

from console.errors import ConsoleError

#: Seeds console accepts: every random generator it seeds (Python's, numpy's, torch's)
#: takes these, and a seed plus a song's or a worker's offset stays a valid seed.
MAX_SEED = 2**32 - 1


def parse_seed(text: str) -> int:
    """An argparse ``type``: a whole number from 0 to :data:`MAX_SEED`."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(
            f"must be a whole number from 0 to {MAX_SEED}, got {text!r}"
        )
    return value


def check_device(device: str | None, option: str = "--device") -> None:
    """Refuse a device torch cannot name, or a GPU this machine does not have."""
    if device is None:
        return
    import torch

    try:
        chosen = torch.device(device)
    except (RuntimeError, ValueError) as exc:
        raise ConsoleError(
            f"{option} {device!r} is not a device; give cpu, cuda or cuda:N."
        ) from exc
    if chosen.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ConsoleError(f"{option} {device}: this machine has no CUDA GPU; use cpu.")
        if chosen.index is not None and chosen.index >= count:
            raise ConsoleError(
                f"{option} {device}: this machine has {count} CUDA GPU(s), cuda:0 to "
                f"cuda:{count - 1}."
            )
    elif chosen.type == "mps" and not torch.backends.mps.is_available():
        raise ConsoleError(f"{option} {device}: this machine has no Apple GPU; use cpu.")
    elif chosen.type not in ("cpu", "mps"):
        raise ConsoleError(f"{option} {device!r}: console trains on cpu, cuda or mps.")


def check_seconds(value: float | None, option: str, low: float, high: float) -> None:
    """``value`` seconds must be finite and within ``(low, high]`` (``None``: not given)."""
    if value is None:
        return
    if not (math.isfinite(value) and low < value <= high):
        raise ConsoleError(
            f"{option} must be a number of seconds above {low:g} and at most {high:g}, "
            f"got {value}."
        )
