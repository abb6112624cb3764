"""Bringing mixes to one loudness before comparing what is not level."""

from __future__ import annotations

import torch

from console.data.loudness import normalise_loudness

#: EBU R 128's programme loudness; any fixed value would do for comparisons.
COMPARISON_LUFS = -23.0


def to_comparison_loudness(mix: torch.Tensor, sample_rate: int) -> torch.Tensor:
    """``(2, T)`` scaled to :data:`COMPARISON_LUFS` (silence is left as it is)."""
    return normalise_loudness(mix, sample_rate, COMPARISON_LUFS)
