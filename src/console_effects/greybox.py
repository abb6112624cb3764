"""Grey-box emulator networks: a DSP structure whose inner settings a small network learns.

The EQ and the compressor that :mod:`console_effects.emulator` emulates are of
a known form: an EQ is second-order sections in series, linear and
time-invariant; a feed-forward compressor is a level detector, attack/release
smoothing and a static gain curve (Wright and Välimäki, "Grey-box modelling of
dynamic range compression", DAFx 2022). A TCN has to rediscover that form from
audio, and pays for it on every sample: 0.17 (EQ) and 0.31 (compressor)
CPU-seconds per track-second on one thread, and the EQ's TCN was never exactly
flat at 0 dB. Here the form is fixed and the network learns only what a
device's knobs do to it: a :class:`SettingsMap` (an MLP plus a linear path,
a few hundred weights) maps the normalised settings to corrections of the
form's inner parameters, and the samples then pass through the project's
compiled DSP kernels (:func:`~console_effects.functional.biquad.biquad_cascade`,
:func:`~console_effects.functional.compressor.compress`). The cost is that of
the DSP effects, and properties a user relies on hold by construction, for any
weights:

- an EQ section at 0 dB gain is exactly the identity (its zeros are its poles),
  so the EQ set flat is flat;
- a compressor at ratio 1 leaves the level alone, the gain never rises above
  the make-up gain, and the make-up gain is exact;
- every filter is stable (its poles come from a left-half-plane analogue
  section through the bilinear transform).

What such a model cannot learn is a device of another form (an opto
compressor's program-dependent release, an EQ whose sections interact); a TCN
(:mod:`console_effects.tcn`) is the tool for those, as for the reverb.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import attrs
import torch
from torch import nn

from console.params import ParamSpec
from console_effects.functional.biquad import (
    MAX_FREQUENCY_RATIO,
    MIN_FREQUENCY_HZ,
    biquad_cascade,
    biquad_frequency_response,
)
from console_effects.functional.compressor import compress

#: Network kind of the EQ emulator: learned second-order sections (``"network"`` in a config).
EQ_BIQUADS = "eq_biquads"
#: Network kind of the compressor emulator: a learned feed-forward compressor.
COMP_FEEDFORWARD = "comp_feedforward"
GREYBOX_NETWORKS = (EQ_BIQUADS, COMP_FEEDFORWARD)

#: Network kind of each EQ section, in filter order (as in ``console_effects.eq.SECTIONS``).
SECTION_KINDS = ("low_shelf", "bell", "bell", "bell", "high_shelf")
#: Settings per EQ section: frequency, gain and Q.
PARAMS_PER_SECTION = 3


@attrs.frozen
class GreyBoxConfig:
    """Shape of a grey-box network; saved in every emulator checkpoint that holds one."""

    #: :data:`EQ_BIQUADS` or :data:`COMP_FEEDFORWARD`.
    network: str = attrs.field(validator=attrs.validators.in_(GREYBOX_NETWORKS))
    #: Settings one :class:`SettingsMap` reads (3 per EQ section; the compressor's 5).
    num_params: int
    #: Hidden units of each layer of the settings map (``--channels``).
    channels: int = 32
    #: Hidden layers of the settings map.
    layers: int = 2

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


class SettingsMap(nn.Module):
    """``(N, P)`` settings centred in ``[-1, 1]`` to ``(N, K)`` corrections, zero at first.

    A linear path plus an MLP (tanh). Both output layers start at zero, so an
    untrained grey-box takes its knobs at face value (an EQ is then bypass).
    """

    def __init__(self, inputs: int, outputs: int, channels: int, layers: int) -> None:
        super().__init__()
        self.linear = nn.Linear(inputs, outputs)
        stack: list[nn.Module] = []
        width = inputs
        for _ in range(layers):
            stack += [nn.Linear(width, channels), nn.Tanh()]
            width = channels
        stack.append(nn.Linear(width, outputs))
        self.mlp = nn.Sequential(*stack)
        with torch.no_grad():
            for layer in (self.linear, self.mlp[-1]):
                layer.weight.zero_()
                layer.bias.zero_()

    def forward(self, centred: torch.Tensor) -> torch.Tensor:
        return self.linear(centred) + self.mlp(centred)


def denormalise(specs: Sequence[ParamSpec], normalised: torch.Tensor) -> torch.Tensor:
    """``(N, P)`` normalised settings to physical ones, as each ParamSpec's ``denormalise``.

    Every column in one go: a handful of tensor operations instead of a few per
    setting, which matters at the grey-box networks' cost.
    """
    low = normalised.new_tensor([spec.minimum for spec in specs])
    high = normalised.new_tensor([spec.maximum for spec in specs])
    log = torch.tensor([spec.scale == "log" for spec in specs], device=normalised.device)
    start = torch.where(log, low.log(), low)
    value = start + normalised.clamp(0.0, 1.0) * (torch.where(log, high.log(), high) - start)
    return torch.where(log, value.exp(), value)


def _centred(normalised: torch.Tensor) -> torch.Tensor:
    """``[0, 1]`` to ``[-1, 1]`` (float32): 0 dB of a symmetric gain range maps to exactly 0."""
    return 2.0 * normalised.float() - 1.0


class BiquadSections(nn.Module):
    """The EQ emulator's network: five learned second-order sections in series.

    Each section is the bilinear transform, pre-warped at the section's
    frequency ``f0`` (so it holds at every sample rate), of an analogue
    section in ``s / (2 pi f0)``::

        H(s) = k (s^2 / wz^2 + s / (wz qz) + 1) / (s^2 / wp^2 + s / (wp qp) + 1)

    and a :class:`SettingsMap` per kind of section (low shelf, bell, high
    shelf; the three bells share one) maps the section's frequency, gain and
    Q to five numbers ``o`` with ``g = gain_db / 24`` (so ``g`` is 0 at 0 dB)::

        wp = exp(o0)            qp = Q exp(o1)
        wz = wp exp(g o2)       qz = qp exp(g o3)       k = exp(g o4)

    At 0 dB the zeros are the poles and ``k = 1``: the section is exactly the
    identity, whatever the weights. A cookbook section (what ``eq:dsp`` and
    pedalboard use) is of this form with ``o`` linear in ``g`` (a bell, for
    instance, has ``qp = Q A``, ``qz = Q / A``, ``A = 10^(gain/40)``), so the
    map's linear path can hold it exactly and its MLP what a device does
    differently. The filtering is the compiled biquad cascade of ``eq:dsp``.

    It offers what :mod:`console.training.response_fit` needs to fit it
    section by section: :attr:`section_kinds`, :attr:`sections` and
    :meth:`section_response`.
    """

    #: Kind of each section in filter order; sections of one kind share a map.
    section_kinds: tuple[str, ...] = SECTION_KINDS

    def __init__(self, config: GreyBoxConfig, specs: Sequence[ParamSpec]) -> None:
        super().__init__()
        if config.network != EQ_BIQUADS or config.num_params != PARAMS_PER_SECTION:
            raise ValueError(f"EQ sections need an {EQ_BIQUADS!r} config of 3 settings: {config}")
        if len(specs) != PARAMS_PER_SECTION * len(SECTION_KINDS):
            raise ValueError(f"An EQ of {len(SECTION_KINDS)} sections has 15 settings, not "
                             f"{len(specs)}.")
        frequencies, qs = specs[0::PARAMS_PER_SECTION], specs[2::PARAMS_PER_SECTION]
        if any(spec.scale != "log" for spec in (*frequencies, *qs)):
            raise ValueError("EQ sections take their frequencies and Qs on a log scale.")
        self.config = config
        self.specs = tuple(specs)
        #: Per section: ln of the lowest frequency and Q, and the ln-span of their ranges.
        self._log_ranges = [
            (math.log(f.minimum), math.log(f.maximum / f.minimum),
             math.log(q.minimum), math.log(q.maximum / q.minimum))
            for f, q in zip(frequencies, qs, strict=True)
        ]
        self.sections = nn.ModuleDict({
            kind: SettingsMap(PARAMS_PER_SECTION, 5, config.channels, config.layers)
            for kind in dict.fromkeys(SECTION_KINDS)
        })

    @property
    def receptive_field(self) -> float:
        """Recursive filters remember the whole past."""
        return math.inf

    def settings_of(self, normalised: torch.Tensor, index: int) -> torch.Tensor:
        """The ``(N, 3)`` settings of section ``index``."""
        return normalised[:, index * PARAMS_PER_SECTION : (index + 1) * PARAMS_PER_SECTION]

    def _design(
        self, o: torch.Tensor, settings: torch.Tensor, indices: Sequence[int], sample_rate: float
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Float64 ``(b, a)`` ``(N, S, 3)``, ``a0 = 1``, of sections ``indices``.

        ``o`` ``(N, S, 5)`` are the maps' outputs and ``settings`` ``(N, S, 3)``
        the sections' normalised frequency, gain and Q. All sections at once:
        a few dozen tensor operations, whatever the number of sections.
        """
        ranges = torch.tensor([self._log_ranges[i] for i in indices], dtype=torch.float64,
                              device=o.device)
        u = settings.double().clamp(0.0, 1.0)
        freq = torch.exp(ranges[:, 0] + u[..., 0] * ranges[:, 1])
        freq = freq.clamp(MIN_FREQUENCY_HZ, MAX_FREQUENCY_RATIO * sample_rate)
        q = torch.exp(ranges[:, 2] + u[..., 2] * ranges[:, 3])
        gain = _centred(settings[..., 1]).double()  # exactly 0 at 0 dB
        warp = torch.tan(math.pi * freq / sample_rate)  # analogue w = 1 lands on f0
        kp = warp * torch.exp(o[..., 0])
        qp = q * torch.exp(o[..., 1])
        kz = kp * torch.exp(gain * o[..., 2])
        qz = qp * torch.exp(gain * o[..., 3])
        k = torch.exp(gain * o[..., 4]) * (kp / kz).square()

        def bilinear(w: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
            w2 = w.square()
            return torch.stack([1.0 + w / q + w2, 2.0 * (w2 - 1.0), 1.0 - w / q + w2], dim=-1)

        a = bilinear(kp, qp)
        b = k[..., None] * bilinear(kz, qz)
        a0 = a[..., :1]
        return b / a0, a / a0

    def section_coefficients(
        self, kind: str, settings: torch.Tensor, sample_rate: float
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Float64 ``(b, a)``, each ``(N, 3)`` with ``a0 = 1``, of one kind of section.

        ``settings`` are the section's normalised ``(N, 3)`` frequency, gain and Q.
        """
        o = self.sections[kind](_centred(settings)).double()
        b, a = self._design(o[:, None], settings[:, None], [SECTION_KINDS.index(kind)],
                            sample_rate)
        return b[:, 0], a[:, 0]

    def coefficients(
        self, normalised: torch.Tensor, sample_rate: float
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Float64 ``(b, a)``, each ``(N, 5, 3)``, of the whole EQ for ``(N, 15)`` settings.

        Each kind's map runs once on all its sections (the three bells as one batch).
        """
        n, sections = normalised.shape[0], len(SECTION_KINDS)
        settings = normalised.reshape(n, sections, PARAMS_PER_SECTION)
        centred = _centred(settings)
        parts, order = [], []
        for kind in self.sections:
            indices = [i for i, k in enumerate(SECTION_KINDS) if k == kind]
            mapped = self.sections[kind](centred[:, indices].reshape(-1, PARAMS_PER_SECTION))
            parts.append(mapped.reshape(n, len(indices), -1))
            order += indices
        o = torch.cat(parts, dim=1)
        if order != sorted(order):
            o = o[:, [order.index(i) for i in range(sections)]]
        return self._design(o.double(), settings, range(sections), sample_rate)

    def forward(
        self, x: torch.Tensor, normalised: torch.Tensor, sample_rate: float
    ) -> torch.Tensor:
        b, a = self.coefficients(normalised, sample_rate)
        return biquad_cascade(x, b, a)

    def section_response(
        self, kind: str, settings: torch.Tensor, omega: torch.Tensor, sample_rate: float
    ) -> torch.Tensor:
        """``(N, F)`` complex response of one kind of section at ``omega`` rad/sample."""
        b, a = self.section_coefficients(kind, settings, sample_rate)
        return biquad_frequency_response(b, a, omega * (sample_rate / (2.0 * math.pi)),
                                         sample_rate)

    def frequency_response(
        self, normalised: torch.Tensor, omega: torch.Tensor, sample_rate: float
    ) -> torch.Tensor:
        """``(N, F)`` complex transfer function of the whole EQ at ``omega`` rad/sample."""
        b, a = self.coefficients(normalised, sample_rate)
        hz = omega * (sample_rate / (2.0 * math.pi))
        return biquad_frequency_response(b, a, hz, sample_rate).prod(dim=1)


#: The compressor's settings the map reads, in ParamSpec order (make-up is applied exactly).
COMP_MAPPED = ("threshold_db", "ratio", "attack_ms", "release_ms", "knee_db")
#: dB of threshold per unit of the map's first output.
_THRESHOLD_SCALE_DB = 12.0
#: Sharpness (1/dB) of the softplus that keeps the learned knee width positive.
_KNEE_SHARPNESS = 4.0


class FeedForwardCompressor(nn.Module):
    """The compressor emulator's network: a feed-forward compressor, its inner settings learned.

    The form is that of ``comp:dsp`` and of JUCE's (so pedalboard's)
    compressor: the peak level ``|x|``, smoothed by a one-pole filter whose
    time constant switches between attack (level rising) and release; its dB
    value through a static curve with a quadratic knee; the resulting gain
    applied to the input, then the make-up gain. A :class:`SettingsMap` maps
    the threshold, ratio, attack, release and knee knobs to five corrections
    ``o``, and the compressor runs at::

        threshold = threshold_db + 12 o0               ln ratio = ln(ratio) exp(o1)
        attack = attack_ms exp(o2)   release = release_ms exp(o3)   (time constants)
        knee = softplus(knee_db + 6 o4) (sharpness 4 per dB)

    so the device's own reading of its knobs is learnt (JUCE's times are
    ``1 / (2 pi)`` of exponential time constants, and it has no knee), while
    ratio 1 stays exactly no compression and the gain never exceeds the
    make-up. A learned static curve of this form rather than a free MLP of
    the level: the reference curves are exactly piecewise (hard or quadratic
    knee), which a per-sample MLP only approximates, at several times the
    cost. Every channel has its own detector (no stereo link), as in JUCE.
    """

    def __init__(self, config: GreyBoxConfig, specs: Sequence[ParamSpec]) -> None:
        super().__init__()
        if config.network != COMP_FEEDFORWARD or config.num_params != len(COMP_MAPPED):
            raise ValueError(
                f"The compressor needs a {COMP_FEEDFORWARD!r} config of "
                f"{len(COMP_MAPPED)} settings: {config}"
            )
        names = [spec.name for spec in specs]
        if names[: len(COMP_MAPPED)] != list(COMP_MAPPED) or names[-1] != "makeup_db":
            raise ValueError(f"The compressor's settings are {COMP_MAPPED} + makeup_db: {names}")
        self.config = config
        self.specs = tuple(specs)
        self.names = tuple(names)
        self.map = SettingsMap(len(COMP_MAPPED), 5, config.channels, config.layers)

    @property
    def receptive_field(self) -> float:
        """The recursive detector remembers the whole past."""
        return math.inf

    def inner_settings(self, normalised: torch.Tensor) -> dict[str, torch.Tensor]:
        """The ``(N,)`` settings the inner compressor runs at, for ``(N, 6)`` normalised knobs."""
        knobs = dict(zip(self.names, denormalise(self.specs, normalised).unbind(1), strict=True))
        o = self.map(_centred(normalised[:, : len(COMP_MAPPED)])).to(knobs["ratio"].dtype)
        return {
            "threshold_db": knobs["threshold_db"] + _THRESHOLD_SCALE_DB * o[:, 0],
            "ratio": torch.exp(torch.log(knobs["ratio"]) * torch.exp(o[:, 1])),
            "attack_ms": knobs["attack_ms"] * torch.exp(o[:, 2]),
            "release_ms": knobs["release_ms"] * torch.exp(o[:, 3]),
            "knee_db": nn.functional.softplus(knobs["knee_db"] + 6.0 * o[:, 4],
                                              beta=_KNEE_SHARPNESS),
            "makeup_db": knobs["makeup_db"],
        }

    def forward(
        self, x: torch.Tensor, normalised: torch.Tensor, sample_rate: float
    ) -> torch.Tensor:
        p = self.inner_settings(normalised.to(x.dtype))
        return compress(
            x, p["threshold_db"], p["ratio"], p["attack_ms"], p["release_ms"], p["knee_db"],
            p["makeup_db"], sample_rate, "exponential", stereo_link=False,
        )
