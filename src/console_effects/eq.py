"""Five-band parametric EQ from audio-EQ-cookbook biquads (the ``eq:dsp`` variant)."""

from __future__ import annotations

import math

import torch

from console.effect import Effect
from console.export.mapping import ArdourMapping, LV2Plugin, Port, Settings
from console.params import ParamSpec
from console_effects.functional.biquad import (
    biquad_cascade,
    biquad_frequency_response,
    high_shelf_coefficients,
    low_shelf_coefficients,
    magnitude_db,
    peaking_coefficients,
)

MAX_GAIN_DB = 24.0


def _band_specs(
    prefix: str, what: str, freq_range: tuple[float, float, float], q_range: tuple[float, float]
) -> tuple[ParamSpec, ParamSpec, ParamSpec]:
    """Frequency (log), gain and Q specs of one band; ``freq_range`` is (min, max, default)."""
    low, high, default = freq_range
    return (
        ParamSpec(
            f"{prefix}_freq_hz", "Hz", low, high, default, scale="log",
            description=f"{what}: corner or centre frequency.",
        ),
        ParamSpec(
            f"{prefix}_gain_db", "dB", -MAX_GAIN_DB, MAX_GAIN_DB, 0.0,
            description=f"{what}: boost (positive) or cut (negative).",
        ),
        ParamSpec(
            f"{prefix}_q", "Q", q_range[0], q_range[1], 1.0 / math.sqrt(2.0), scale="log",
            description=f"{what}: quality factor; higher is narrower (steeper for a shelf).",
        ),
    )


#: The sections in filter order: (parameter prefix, coefficient function).
SECTIONS = (
    ("low_shelf", low_shelf_coefficients),
    ("band1", peaking_coefficients),
    ("band2", peaking_coefficients),
    ("band3", peaking_coefficients),
    ("high_shelf", high_shelf_coefficients),
)
_SHELF_Q = (0.25, 2.0)


def response_grid(nyquist: float, n_freqs: int) -> torch.Tensor:
    """``n_freqs`` log-spaced float64 frequencies from 20 Hz (or less) to ``nyquist``: EQ plots."""
    return torch.logspace(
        math.log10(min(20.0, nyquist / 2.0)), math.log10(nyquist), n_freqs, dtype=torch.float64
    )
_BELL_Q = (0.1, 10.0)


def octaves_for_q(q: float) -> float:
    """Bandwidth in octaves of a bell with quality factor ``q`` (Ardour's a-EQ takes octaves)."""
    return 2.0 / math.log(2.0) * math.asinh(1.0 / (2.0 * q))


def _held_frequency(hz: float, settings: Settings) -> float:
    """Where our biquads hold a frequency (below 0.49 x the sample rate)."""
    return min(hz, 0.49 * settings.sample_rate)


def _ardour_eq() -> ArdourMapping:
    """a-EQ (``urn:ardour:a-eq``): low shelf, four bells (the fourth off), high shelf.

    a-EQ's bells are the cookbook's analogue bell (same prototype, same bilinear
    transform), so they match exactly once Q is given as octaves. Its shelves are
    the cookbook shelves with a fixed Q of 0.707 whose half-gain point sits at
    ``f x 10^(gain/80)`` (low) and ``f / 10^(gain/80)`` (high) instead of ``f``: the
    frequency port is set so the half-gain point lands where ours does.
    """
    edge = {"unit": "Hz", "minimum": 20.0, "maximum": 20000.0}
    gain = {"unit": "dB", "minimum": -20.0, "maximum": 20.0}
    width = {"unit": "octaves", "minimum": 0.1, "maximum": 4.0}
    ports = [
        Port("freql", lambda s: _held_frequency(s["low_shelf_freq_hz"], s)
             / 10.0 ** (s["low_shelf_gain_db"] / 80.0),
             ("low_shelf_freq_hz", "low_shelf_gain_db"), **edge,
             note="f / 10^(gain/80): a-EQ's shelf turns over higher than its port says"),
        Port("gl", lambda s: s["low_shelf_gain_db"], ("low_shelf_gain_db",), **gain,
             note="same; a-EQ stops at +-20 dB (ours +-24)"),
    ]
    for n in (1, 2, 3):
        band = f"band{n}"
        ports += [
            Port(f"freq{n}", lambda s, b=band: _held_frequency(s[f"{b}_freq_hz"], s),
                 (f"{band}_freq_hz",), **edge, note="same"),
            Port(f"g{n}", lambda s, b=band: s[f"{b}_gain_db"], (f"{band}_gain_db",), **gain,
                 note="same; a-EQ stops at +-20 dB (ours +-24)"),
            Port(f"bw{n}", lambda s, b=band: octaves_for_q(s[f"{b}_q"]), (f"{band}_q",),
                 **width, note="octaves = 2/ln 2 x asinh(1/(2Q)); 0.1-4 octaves is Q 14.4-0.27"),
        ]
    ports += [
        Port("freq4", 6000.0, unit="Hz", note="unused band, switched off"),
        Port("g4", 0.0, unit="dB"),
        Port("filtog4", 0.0),
        Port("freqh", lambda s: _held_frequency(s["high_shelf_freq_hz"], s)
             * 10.0 ** (s["high_shelf_gain_db"] / 80.0),
             ("high_shelf_freq_hz", "high_shelf_gain_db"), **edge,
             note="f x 10^(gain/80): a-EQ's shelf turns over lower than its port says"),
        Port("gh", lambda s: s["high_shelf_gain_db"], ("high_shelf_gain_db",), **gain,
             note="same; a-EQ stops at +-20 dB (ours +-24)"),
        Port("master", 0.0, unit="dB"),
        *(Port(f"filtog{band}", 1.0) for band in ("l", "1", "2", "3", "h")),
        Port("enable", 1.0),
    ]
    shelf_q = ("a-EQ's shelves have a fixed Q of 0.707 (our default); another Q changes the "
               "slope around the corner by up to a few dB")
    return ArdourMapping(
        targets=(LV2Plugin("urn:ardour:a-eq", "ACE EQ", tuple(ports)),),
        unmapped={"low_shelf_q": shelf_q, "high_shelf_q": shelf_q},
    )


class ParametricEQ(Effect):
    """Low shelf, three bells and a high shelf in series, each a cookbook biquad.

    Exact time-domain filtering (no frequency sampling), so a band sounds as
    it does in any DAW or in pedalboard; gradients reach every frequency, gain
    and Q. Frequencies above 0.49 x the sample rate are held there (their
    gradient is then zero).
    """

    name = "eq:dsp"
    description = "Parametric EQ: low shelf, 3 bells, high shelf (cookbook biquads, DSP)."
    params = (
        *_band_specs("low_shelf", "Low shelf", (20.0, 2000.0, 100.0), _SHELF_Q),
        *_band_specs("band1", "Bell 1", (20.0, 20000.0, 250.0), _BELL_Q),
        *_band_specs("band2", "Bell 2", (20.0, 20000.0, 1000.0), _BELL_Q),
        *_band_specs("band3", "Bell 3", (20.0, 20000.0, 4000.0), _BELL_Q),
        *_band_specs("high_shelf", "High shelf", (1000.0, 20000.0, 8000.0), _SHELF_Q),
    )
    ardour = _ardour_eq()

    def coefficients(
        self, params: torch.Tensor, sample_rate: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Float64 ``(b, a)``, each ``(N, 5, 3)``, of the sections for ``(N, P)`` parameters."""
        if params.dim() != 2 or params.shape[1] != self.num_params:
            raise ValueError(
                f"{self.name}: parameters must be (N, P={self.num_params}), "
                f"got {tuple(params.shape)}."
            )
        columns = {spec.name: params[:, i] for i, spec in enumerate(self.params)}
        pairs = [
            make(
                columns[f"{prefix}_freq_hz"], columns[f"{prefix}_gain_db"], columns[f"{prefix}_q"],
                sample_rate,
            )
            for prefix, make in SECTIONS
        ]
        b = torch.stack([pair[0] for pair in pairs], dim=1)
        a = torch.stack([pair[1] for pair in pairs], dim=1)
        return b, a

    def process(self, x: torch.Tensor, params: torch.Tensor, sample_rate: int) -> torch.Tensor:
        b, a = self.coefficients(params, sample_rate)
        return biquad_cascade(x, b, a)

    def frequency_response(
        self, params: torch.Tensor, sample_rate: int, n_freqs: int = 1024
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Magnitude of the whole EQ on a log grid from 20 Hz to Nyquist.

        Returns ``freqs_hz`` ``(F,)`` and ``magnitude_db`` ``(N, F)``, in the
        dtype of ``params`` (float64 stays float64, for tests).
        """
        b, a = self.coefficients(params, sample_rate)
        freqs = response_grid(sample_rate / 2.0, n_freqs)
        response = biquad_frequency_response(b, a, freqs, sample_rate).prod(dim=1)
        dtype = params.dtype if params.is_floating_point() else torch.float32
        return freqs.to(dtype), magnitude_db(response).to(dtype)
