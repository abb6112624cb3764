"""The mono baseline: every stem at unity gain, all in the centre."""

from __future__ import annotations

import torch

from console.mixer import Mixer
from console_baselines.centre import centred


class MonoMixer(Mixer):
    """Sums the stems as they were recorded and centres the sum.

    This is what a console with every fader at 0 dB and every pan at 0 plays:
    the paper's lower bound that makes no decision at all.
    """

    name = "mono"
    description = "Equal-gain sum of the stems, centred (no decisions)."

    def mix(self, stems: torch.Tensor, mask: torch.Tensor, sample_rate: int) -> torch.Tensor:
        return centred(stems.sum(dim=1))
