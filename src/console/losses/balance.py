"""Sum/difference MR-STFT plus a left/right placement term (``stereo:balanced``).

The paper's loss compares ``|STFT(L-R)|``, which cannot tell left from right:
a track's image and its mirror score the same, so a console trained on it may
put every track on one side. This loss adds the difference in each
time-frequency tile's signed placement ``(|L|^2 - |R|^2) / (|L|^2 + |R|^2)``,
which is +1 hard left, -1 hard right and 0 in the centre, weighted by how loud
the tile is in the reference. Tracks rarely share their tiles, so the term
places each one on the reference's side.

The measure is the *placement error*, in ``[0, 2]``. It is not the spectral
balance of ``console evaluate`` (each frequency band's share of the energy,
in dB), which is another metric; the two are named apart.
"""

from __future__ import annotations

from typing import Any

import torch

from console.losses.stereo import StereoSTFTLoss

#: Power below which a tile counts as silent (its placement is then 0).
_EPS = 1e-8


def tile_placement(
    mix: torch.Tensor, n_fft: int = 2048, hop: int = 512
) -> tuple[torch.Tensor, torch.Tensor]:
    """Signed left/right placement in ``[-1, 1]`` and magnitude of each tile of ``(B, 2, T)``.

    Both are ``(B, F, frames)``; the magnitude is ``sqrt(|L|^2 + |R|^2)``.
    """
    b, _, t = mix.shape
    window = torch.hann_window(n_fft, device=mix.device, dtype=mix.dtype)
    spec = torch.stft(
        mix.reshape(b * 2, t), n_fft, hop, window=window, return_complex=True
    ).reshape(b, 2, n_fft // 2 + 1, -1)
    power = spec.real.square() + spec.imag.square()
    total = power[:, 0] + power[:, 1]
    placement = (power[:, 0] - power[:, 1]) / (total + _EPS)
    return placement, total.sqrt()


def placement_error(
    mix: torch.Tensor, reference: torch.Tensor, n_fft: int = 2048
) -> torch.Tensor:
    """Mean over items of the reference-weighted tile placement error, in ``[0, 2]``."""
    predicted, _ = tile_placement(mix, n_fft, n_fft // 4)
    wanted, weight = tile_placement(reference, n_fft, n_fft // 4)
    error = (predicted - wanted).abs()
    per_item = (error * weight).sum(dim=(1, 2)) / weight.sum(dim=(1, 2)).clamp(min=_EPS)
    return per_item.mean()



class BalancedStereoLoss(StereoSTFTLoss):
    """:class:`StereoSTFTLoss` plus ``w_balance`` times the mean placement error.

    The placement error of an item is the reference-magnitude-weighted mean of
    ``|placement(mix) - placement(reference)|`` over tiles: 0 when every tile
    sits where the reference has it, 2 when every loud tile is mirrored.
    ``w_balance`` keeps its name (it balances the stereo field, hence the
    loss's). Other keyword options are :class:`StereoSTFTLoss`'s.
    """

    name = "stereo:balanced"
    description = "Sum and difference MR-STFT plus a left/right placement term."

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
        return loss + self.w_balance * placement_error(mix, reference, self.balance_fft)
