"""Differentiable feed-forward compressor (``comp:dsp``)."""

from __future__ import annotations

import torch

from console.effect import Effect
from console.export.mapping import ArdourMapping, LV2Plugin, Port
from console.params import ParamSpec
from console_effects.functional.compressor import (
    TIME_CONSTANTS,
    TimeConstant,
    compress_with_adjoint,
    compressor_gain_db,
    static_curve_db,
)


class Compressor(Effect):
    """Peak-detecting compressor with soft knee, attack, release and make-up gain.

    ``time_constant="juce"`` with ``knee_db = 0`` and ``stereo_link=False``
    reproduces JUCE's ``dsp::Compressor`` (pedalboard's ``Compressor``); the
    default reads times as true exponential time constants and links the
    channels of a stereo input so its image stays put.
    """

    name = "comp:dsp"
    description = "Feed-forward compressor: soft knee, attack/release ballistics (DSP)."
    params = (
        ParamSpec(
            "threshold_db", "dB", -60.0, 0.0, -20.0,
            description="Level above which the gain is reduced.",
        ),
        ParamSpec(
            "ratio", "ratio", 1.0, 20.0, 4.0, scale="log",
            description="Input dB per output dB above the threshold; 1 leaves the level alone.",
        ),
        ParamSpec(
            "attack_ms", "ms", 0.1, 100.0, 10.0, scale="log",
            description="Time constant of the detector while the level rises.",
        ),
        ParamSpec(
            "release_ms", "ms", 10.0, 1000.0, 100.0, scale="log",
            description="Time constant of the detector while the level falls.",
        ),
        ParamSpec(
            "knee_db", "dB", 0.0, 24.0, 6.0,
            description="Width of the soft knee around the threshold; 0 is a hard knee.",
        ),
        ParamSpec(
            "makeup_db", "dB", 0.0, 24.0, 0.0,
            description="Gain added after compression.",
        ),
    )

    #: a-Comp smooths the gain reduction in dB where we smooth the level, with the same
    #: exponential time constants and the same quadratic knee; its stereo variant links
    #: the channels (the louder one drives), as ours does.
    ardour = ArdourMapping(
        targets=(
            LV2Plugin(
                "urn:ardour:a-comp", "ACE Compressor", stereo_uri="urn:ardour:a-comp#stereo",
                ports=(
                    Port("thr", lambda s: s["threshold_db"], ("threshold_db",), "dB", -60.0, 0.0,
                         note="same", follows_level=True),
                    Port("rat", lambda s: s["ratio"], ("ratio",), "", 1.0, 20.0, note="same"),
                    Port("att", lambda s: s["attack_ms"], ("attack_ms",), "ms", 0.1, 100.0,
                         note="same time constant; it smooths the gain in dB, ours the level"),
                    Port("rel", lambda s: s["release_ms"], ("release_ms",), "ms", 1.0, 2000.0,
                         note="same time constant; it smooths the gain in dB, ours the level"),
                    Port("kn", lambda s: s["knee_db"] / 6.0, ("knee_db",), "", 0.0, 8.0,
                         note="knee / 6: a-Comp's knee is 6 x kn + 0.01 dB wide"),
                    Port("mak", lambda s: s["makeup_db"], ("makeup_db",), "dB", 0.0, 30.0,
                         note="same"),
                    Port("sidech", 0.0, note="no side chain"),
                    Port("enable", 1.0),
                ),
            ),
        ),
    )

    def __init__(self, time_constant: TimeConstant = "exponential", stereo_link: bool = True):
        super().__init__()
        if time_constant not in TIME_CONSTANTS:
            raise ValueError(
                f"comp:dsp: time_constant must be one of {TIME_CONSTANTS}, got {time_constant!r}."
            )
        self.time_constant: TimeConstant = time_constant
        self.stereo_link = stereo_link

    def _columns(self, params: torch.Tensor) -> dict[str, torch.Tensor]:
        """``{name: (N,)}`` parameter columns."""
        return {p.name: params[:, i] for i, p in enumerate(self.params)}

    def _gain_db(self, x: torch.Tensor, params: torch.Tensor, sample_rate: int) -> torch.Tensor:
        p = self._columns(params)
        return compressor_gain_db(
            x, p["threshold_db"], p["ratio"], p["attack_ms"], p["release_ms"], p["knee_db"],
            sample_rate, self.time_constant, self.stereo_link,
        )

    def process(self, x: torch.Tensor, params: torch.Tensor, sample_rate: int) -> torch.Tensor:
        p = self._columns(params)
        return compress_with_adjoint(  # compress(), its backward pass compiled where it can be
            x, p["threshold_db"], p["ratio"], p["attack_ms"], p["release_ms"], p["knee_db"],
            p["makeup_db"], sample_rate, self.time_constant, self.stereo_link,
        )

    def static_curve(self, params: torch.Tensor, input_db: torch.Tensor) -> torch.Tensor:
        """Output level ``(N, L)`` in dB for steady input levels ``(L,)``, make-up included."""
        p = self._columns(params)
        return static_curve_db(input_db, p["threshold_db"], p["ratio"], p["knee_db"],
                               p["makeup_db"])

    def gain_trace(self, x: torch.Tensor, params: torch.Tensor, sample_rate: int) -> torch.Tensor:
        """Gain change ``(N, T)`` in dB (``<= 0``, before make-up) that the compressor applies.

        Without stereo linking the channels differ; the trace shows the
        deepest reduction among them.
        """
        return self._gain_db(x, params.to(x.dtype), sample_rate).amin(dim=1)
