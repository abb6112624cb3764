"""Stereo width: how much of a mix's energy is in the side channel, and its error."""

from __future__ import annotations

import torch


def stereo_width(mix: torch.Tensor) -> float:
    """Side energy over total energy of a ``(2, T)`` mix, in ``[0, 1]``.

    0 is mono, about 0.5 two unrelated channels, 1 the channels in opposite
    phase. Swapping L and R only flips the side's sign, so it does not change
    the width; silence counts as mono.
    """
    left, right = mix.double()
    mid = 0.5 * (left + right)
    side = 0.5 * (left - right)
    side_energy = float(side.square().sum())
    total = float(mid.square().sum()) + side_energy
    return side_energy / total if total > 0 else 0.0


def stereo_width_error(mix: torch.Tensor, reference: torch.Tensor) -> float:
    """``|width(mix) - width(reference)|``."""
    return abs(stereo_width(mix) - stereo_width(reference))
