"""Sum/difference multi-resolution STFT loss, after Steinmetz et al. (2021)."""

from __future__ import annotations

from collections.abc import Sequence

import auraloss
import torch

from console.losses.base import Loss


class StereoSTFTLoss(Loss):
    """MR-STFT on ``L+R`` plus MR-STFT on ``L-R``.

    The sum carries the spectral balance, the difference the stereo image; the
    difference's magnitude is blind to its sign, so swapping L and R in both
    mixes changes nothing. The flip side: a mirrored image (L and R swapped in
    the prediction only) also scores zero, so the loss teaches stereo width,
    not which side a source sits on.

    With ``match_level`` the prediction is first scaled (differentiably) to the
    reference's RMS, so the loss judges balance, spectrum and image but not
    the mix's overall level, which no single track's decision should chase
    (the master stage sets a mix's loudness anyway). Without it, as in the
    paper, every fader is also pushed to fix the overall level.
    """

    name = "stereo"
    description = "Sum and difference multi-resolution STFT loss (auraloss)."

    def __init__(
        self,
        fft_sizes: Sequence[int] = (512, 2048, 8192),
        hop_sizes: Sequence[int] = (128, 512, 2048),
        win_lengths: Sequence[int] = (512, 2048, 8192),
        w_sum: float = 1.0,
        w_diff: float = 1.0,
        match_level: bool = False,
    ) -> None:
        super().__init__()
        self.match_level = bool(match_level)
        self.min_length = max(fft_sizes) // 2 + 1
        self.loss = auraloss.freq.SumAndDifferenceSTFTLoss(
            fft_sizes=list(fft_sizes),
            hop_sizes=list(hop_sizes),
            win_lengths=list(win_lengths),
            w_sum=w_sum,
            w_diff=w_diff,
        )

    def compare(self, mix: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
        if mix.dim() != 3 or mix.shape[1] != 2:
            raise ValueError(f"stereo: mixes must be (B, 2, T), got {tuple(mix.shape)}.")
        if mix.shape[-1] < self.min_length:
            raise ValueError(
                f"stereo: mixes of {mix.shape[-1]} samples are too short for the largest "
                f"FFT; give at least {self.min_length} samples or smaller fft_sizes."
            )
        if self.match_level:
            mix = matched_level(mix, reference)
        return self.loss(mix, reference)


def matched_level(mix: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """Each ``(2, T)`` mix of the batch scaled to its reference's RMS (silence stays silent)."""
    power = mix.pow(2).mean(dim=(1, 2), keepdim=True)
    target = reference.pow(2).mean(dim=(1, 2), keepdim=True)
    return mix * torch.sqrt(target / power.clamp(min=1e-12))
