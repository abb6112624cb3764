"""Placing a mono sum in the middle of the stereo field."""

from __future__ import annotations

import math

import torch

#: Constant-power centre: each side at -3 dB, as the pan effect places a track at 0.
CENTRE_GAIN = 1.0 / math.sqrt(2.0)


def centred(mono: torch.Tensor) -> torch.Tensor:
    """``(B, T)`` to ``(B, 2, T)`` with both channels at the constant-power centre gain."""
    return (mono * CENTRE_GAIN)[:, None, :].expand(-1, 2, -1).contiguous()
