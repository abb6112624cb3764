"""Loudness error: how far a mix's level is from the reference's (ITU-R BS.1770)."""

from __future__ import annotations

import math

import torch

from console.data.loudness import loudness_lufs


def loudness_error_db(mix: torch.Tensor, reference: torch.Tensor, sample_rate: int) -> float:
    """``|LUFS(mix) - LUFS(reference)|`` of ``(2, T)`` mixes, in dB (= LU).

    Integrated loudness is measured with pyloudnorm's BS.1770-4 meter (gated
    400 ms blocks). NaN when either mix is silent, since silence has no level.
    """
    a, b = loudness_lufs(mix, sample_rate), loudness_lufs(reference, sample_rate)
    if not (math.isfinite(a) and math.isfinite(b)):
        return math.nan
    return abs(a - b)
