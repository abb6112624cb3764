"""The loudness baseline: every stem brought to the same loudness, all in the centre."""

from __future__ import annotations

import math

import torch

from console.data.loudness import loudness_lufs
from console.mixer import Mixer
from console_baselines.centre import centred

#: The gains the heuristic may apply, so a near-silent stem is not raised by 60 dB.
MAX_BOOST_DB = 24.0
MAX_CUT_DB = 48.0


class LoudnessMixer(Mixer):
    """Gains each stem so its integrated loudness (ITU-R BS.1770) is ``stem_lufs``.

    A common first move of a human engineer and a strong heuristic: no stem
    buries another. Silent stems stay as they are; gains are limited to
    +24 / -48 dB (the fader's range). Loudness is measured on each whole stem,
    so the gains are not differentiable and the mixer has nothing to train.
    """

    name = "loudness"
    description = "Every stem at equal loudness (BS.1770), centred."

    def __init__(self, stem_lufs: float = -30.0) -> None:
        super().__init__()
        self.stem_lufs = float(stem_lufs)

    def options(self) -> dict[str, object]:
        return {"stem_lufs": self.stem_lufs}

    def gains_db(self, stems: torch.Tensor, mask: torch.Tensor, sample_rate: int) -> torch.Tensor:
        """``(B, K)`` gain in dB that brings every unmasked, audible stem to ``stem_lufs``."""
        gains = torch.zeros(stems.shape[:2], dtype=torch.float64)
        for b, k in mask.nonzero().tolist():
            level = loudness_lufs(stems[b, k][None], sample_rate)
            if math.isfinite(level):
                gains[b, k] = min(MAX_BOOST_DB, max(-MAX_CUT_DB, self.stem_lufs - level))
        return gains

    def mix(self, stems: torch.Tensor, mask: torch.Tensor, sample_rate: int) -> torch.Tensor:
        scale = torch.pow(10.0, self.gains_db(stems, mask, sample_rate) / 20.0).to(stems)
        return centred((stems * scale[..., None]).sum(dim=1))
