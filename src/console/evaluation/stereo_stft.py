"""The paper's objective metric: sum and difference MR-STFT distance at equal loudness."""

from __future__ import annotations

import torch

from console.evaluation.normalise import to_comparison_loudness
from console.losses.stereo import StereoSTFTLoss

_LOSS: StereoSTFTLoss | None = None


def _loss() -> StereoSTFTLoss:
    global _LOSS
    if _LOSS is None:
        _LOSS = StereoSTFTLoss()
    return _LOSS


def stereo_stft_distance(mix: torch.Tensor, reference: torch.Tensor, sample_rate: int) -> float:
    """MR-STFT of ``L+R`` plus MR-STFT of ``L-R`` between ``(2, T)`` mixes.

    Both mixes are first brought to one loudness, so the number measures
    balance, spectrum and image rather than overall level (which
    :func:`~console.evaluation.loudness_error.loudness_error_db` reports).
    Like the training loss, it is blind to a mirrored image (L and R swapped).
    """
    a = to_comparison_loudness(mix, sample_rate)
    b = to_comparison_loudness(reference, sample_rate)
    with torch.no_grad():
        return float(_loss()(a[None].float(), b[None].float()))
