"""Analytic gain in decibels."""

from __future__ import annotations

import torch

from console.effect import Effect
from console.export.mapping import ArdourMapping, Fader
from console.params import ParamSpec


def apply_gain_db(x: torch.Tensor, gain_db: torch.Tensor) -> torch.Tensor:
    """Scale ``x`` by ``10 ** (gain_db / 20)``; ``gain_db`` broadcasts over ``x``."""
    return x * torch.pow(10.0, gain_db / 20.0)


class Gain(Effect):
    """A fader: the same gain on every channel of the track."""

    name = "gain"
    description = "Channel fader in dB (analytic)."
    #: Each output sample depends on one input sample: songs render block by block.
    memoryless = True
    params = (
        ParamSpec(
            "gain_db", "dB", -48.0, 24.0, 0.0,
            description="Level change applied to the whole track.",
        ),
    )
    ardour = ArdourMapping(
        targets=(Fader(lambda s: s["gain_db"], ("gain_db",), note="exact"),),
    )

    def process(self, x: torch.Tensor, params: torch.Tensor, sample_rate: int) -> torch.Tensor:
        return apply_gain_db(x, self.unpack(params)["gain_db"])
