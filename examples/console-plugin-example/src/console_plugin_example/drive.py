"""Tanh saturation: a smooth, differentiable overdrive."""

from __future__ import annotations

import torch

from console import Effect, ParamSpec


class Drive(Effect):
    """Pushes the track into a tanh curve, then blends it with the dry signal.

    The output is divided by the drive so that quiet passages keep their level
    and only peaks are rounded off.
    """

    name = "drive"
    description = "Tanh saturation with input drive and dry/wet blend."
    params = (
        ParamSpec("drive_db", "dB", 0.0, 36.0, 6.0, description="Gain into the tanh curve."),
        ParamSpec("mix", "ratio", 0.0, 1.0, 1.0, description="0 dry only, 1 driven only."),
    )

    def process(self, x: torch.Tensor, params: torch.Tensor, sample_rate: int) -> torch.Tensor:
        p = self.unpack(params)
        drive = torch.pow(10.0, p["drive_db"] / 20.0)
        wet = torch.tanh(drive * x) / drive
        return p["mix"] * wet + (1.0 - p["mix"]) * x
