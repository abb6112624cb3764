"""Analytic constant-power panning."""

from __future__ import annotations

import math

import torch

from console.effect import Effect
from console.export.mapping import ArdourMapping, Panner, Settings
from console.params import ParamSpec


def constant_power_gains(pan: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Left and right gains for ``pan`` in ``[-1, 1]`` (-1 hard left, 0 centre, 1 hard right).

    ``gL**2 + gR**2 == 1`` at every position, so loudness does not dip in the
    middle; at the centre both gains are ``1/sqrt(2)`` (-3 dB).
    """
    theta = (pan.clamp(-1.0, 1.0) + 1.0) * (math.pi / 4.0)
    return torch.cos(theta), torch.sin(theta)


def _ardour_gains(settings: Settings) -> tuple[float, float]:
    """This effect's left and right gains (a stereo input's sides get the centre-unity law)."""
    theta = (min(max(settings["pan"], -1.0), 1.0) + 1.0) * (math.pi / 4.0)
    scale = 1.0 if settings.channels == 1 else math.sqrt(2.0)
    return scale * math.cos(theta), scale * math.sin(theta)


class Pan(Effect):
    """Places a mono track in the stereo field; balances a stereo one.

    A stereo input (a stereo stem, or a mono one after a stereo reverb) keeps its
    image at the centre and is attenuated on the far side as the position moves,
    with the same constant-power law scaled so the centre is unity. For a stereo
    stem the column is recorded as ``balance`` (:attr:`stereo_params`).
    """

    name = "pan"
    description = "Constant-power pan of a mono track; balance of a stereo one (analytic)."
    #: Each output sample depends on one input sample: songs render block by block.
    memoryless = True
    params = (
        ParamSpec(
            "pan", "position", -1.0, 1.0, 0.0,
            description="Stereo position: -1 hard left, 0 centre, +1 hard right.",
        ),
    )
    stereo_params = (
        ParamSpec(
            "balance", "position", -1.0, 1.0, 0.0,
            description="Balance of a stereo track: 0 keeps its image as recorded; towards "
                        "-1 the right side fades out (and the left rises by up to 3 dB), "
                        "towards +1 the left.",
        ),
    )
    ardour = ArdourMapping(
        targets=(
            Panner(_ardour_gains, ("pan",),
                   note="exact: the position with the same left/right ratio, and the level "
                        "Ardour's law differs by on the fader"),
        ),
    )

    def output_channels(self, in_channels: int) -> int:
        if in_channels not in (1, 2):
            raise ValueError(f"pan takes mono or stereo input, not {in_channels} channels")
        return 2

    def process(self, x: torch.Tensor, params: torch.Tensor, sample_rate: int) -> torch.Tensor:
        left, right = constant_power_gains(self.unpack(params)["pan"])
        if x.shape[1] == 1:
            return torch.cat([x * left, x * right], dim=1)
        scale = math.sqrt(2.0)
        return torch.cat([x[:, :1] * left * scale, x[:, 1:] * right * scale], dim=1)
