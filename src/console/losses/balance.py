"""Sum/difference MR-STFT plus a signed left/right balance term (``stereo:balanced``).

The paper's loss compares ``|STFT(L-R)|``, which cannot tell left from right:
a track's image and its mirror score the same, so a console trained on it may
put every track on one side. This loss adds the difference in each
time-frequency tile's signed balance ``(|L|^2 - |R|^2) / (|L|^2 + |R|^2)``,
which is +1 hard left, -1 hard right and 0 in the centre, weighted by how loud
the tile is in the reference. Tracks rarely share their tiles, so the term
places each one on the reference's side.
"""

from __future__ import annotations

from typing import Any

import torch

from console.losses.stereo import StereoSTFTLoss

#: Power below which a tile counts as silent (its balance is then 0).
_EPS = 1e-8


def tile_balance(
    mix: torch.Tensor, n_fft: int = 2048, hop: int = 512
) -> tuple[torch.Tensor, torch.Tensor]:
    """Signed balance in ``[-1, 1]`` and magnitude of each tile of ``(B, 2, T)`` mixes.

    Both are ``(B, F, frames)``; the magnitude is ``sqrt(|L|^2 + |R|^2)``.
    """
    b, _, t = mix.shape
    window = torch.hann_window(n_fft, device=mix.device, dtype=mix.dtype)
    spec = torch.stft(
        mix.reshape(b * 2, t), n_fft, hop, window=window, return_complex=True
    ).reshape(b, 2, n_fft // 2 + 1, -1)
    power = spec.real.square() + spec.imag.square()
    total = power[:, 0] + power[:, 1]
    balance = (power[:, 0] - power[:, 1]) / (total + _EPS)
    return balance, total.sqrt()


def balance_error(mix: torch.Tensor, reference: torch.Tensor, n_fft: int = 2048) -> torch.Tensor:
    """Mean over items of the reference-weighted tile balance error, in ``[0, 2]``."""
    predicted, _ = tile_balance(mix, n_fft, n_fft // 4)
    wanted, weight = tile_balance(reference, n_fft, n_fft // 4)
    error = (predicted - wanted).abs()
    per_item = (error * weight).sum(dim=(1, 2)) / weight.sum(dim=(1, 2)).clamp(min=_EPS)
    return per_item.mean()


class BalancedStereoLoss(StereoSTFTLoss):
    """:class:`StereoSTFTLoss` plus ``w_balance`` times the mean balance error.

    The balance error of an item is the reference-magnitude-weighted mean of
    ``|balance(mix) - balance(reference)|`` over tiles: 0 when every tile sits
    where the reference has it, 2 when every loud tile is mirrored. Other
    keyword options are :class:`StereoSTFTLoss`'s.
    """

    name = "stereo:balanced"
    description = "Sum and difference MR-STFT plus a signed left/right balance term."

    def __init__(
        self, *, w_balance: float = 1.0, balance_fft: int = 2048, **stereo_options: Any
    ) -> None:
        super().__init__(**stereo_options)
        if w_balance < 0:
            raise ValueError(f"stereo:balanced: w_balance must be >= 0, got {w_balance}.")
        self.w_balance = float(w_balance)
        self.balance_fft = int(balance_fft)

    def compare(self, mix: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
        loss = super().compare(mix, reference)
        if self.w_balance == 0:
            return loss
        return loss + self.w_balance * balance_error(mix, reference, self.balance_fft)
