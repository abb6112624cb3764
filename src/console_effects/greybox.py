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

import functools
import math
from collections.abc import Callable, Sequence
from typing import Any

import attrs
import numpy as np
import torch
from torch import nn

from console.params import ParamSpec, denormalise_columns
from console_effects.functional.biquad import (
    MAX_FREQUENCY_RATIO,
    MIN_FREQUENCY_HZ,
    SectionsCascade,
    biquad_cascade,
    biquad_frequency_response,
)
from console_effects.functional.compiled import compile_loops
from console_effects.functional.compressor import ChannelCompressor, compress

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

    def forward_keeping(self, centred: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """:meth:`forward` (the same operations), and the hidden layers' outputs."""
        kept, hidden = [], centred
        for layer in self.mlp:
            hidden = layer(hidden)
            if isinstance(layer, nn.Tanh):
                kept.append(hidden)
        return self.linear(centred) + hidden, kept


def _centred(normalised: torch.Tensor) -> torch.Tensor:
    """``[0, 1]`` to ``[-1, 1]`` (float32): 0 dB of a symmetric gain range maps to exactly 0."""
    return 2.0 * normalised.float() - 1.0


def _map_adjoint(
    grad_o: np.ndarray, w_linear: np.ndarray, w_first: np.ndarray, w_middle: np.ndarray,
    w_last: np.ndarray, hidden: np.ndarray, through: np.ndarray, after: np.ndarray,
    grad_in: np.ndarray,
) -> None:
    """Gradient ``grad_in`` ``(I,)`` of a :class:`SettingsMap`'s input for that of its output.

    The map's weights are constants: ``w_linear`` ``(O, I)`` its linear path,
    ``w_first`` ``(C, I)``, ``w_middle`` ``(L - 1, C, C)`` and ``w_last``
    ``(O, C)`` its MLP's layers; ``hidden`` ``(L, C)`` the MLP's tanh outputs
    for this input; ``through`` and ``after`` ``(C,)`` room to work in.
    Called from the compiled loops (:func:`_compiled_adjoints` compiles it
    first).
    """
    depth, width = hidden.shape[0], hidden.shape[1]
    outputs = grad_o.shape[0]
    for j in range(width):
        total = 0.0
        for i in range(outputs):
            total += grad_o[i] * w_last[i, j]
        through[j] = total * (1.0 - np.float64(hidden[depth - 1, j]) ** 2)
    for layer in range(depth - 2, -1, -1):
        for m in range(width):
            total = 0.0
            for j in range(width):
                total += through[j] * w_middle[layer, j, m]
            after[m] = total * (1.0 - np.float64(hidden[layer, m]) ** 2)
        through[:] = after
    for m in range(grad_in.shape[0]):
        total = 0.0
        for j in range(width):
            total += through[j] * w_first[j, m]
        for i in range(outputs):
            total += grad_o[i] * w_linear[i, m]
        grad_in[m] = total


def _design_adjoint(
    grad: np.ndarray, o: np.ndarray, settings: np.ndarray, centred: np.ndarray,
    ranges: np.ndarray, sample_rate: float, min_hz: float, max_hz: float, kinds: np.ndarray,
    w_linear: np.ndarray, w_first: np.ndarray, w_middle: np.ndarray, w_last: np.ndarray,
    hidden: np.ndarray, grad_settings: np.ndarray,
) -> None:
    """The gradient of :class:`BiquadSections`' settings for that of its coefficients.

    Per row ``n`` and section ``s``: ``grad[n, s]`` is the gradient of
    ``(b0, b1, b2, a1, a2)``, ``o`` the maps' outputs (float64), ``settings``
    the normalised settings, ``centred`` the maps' float32 inputs; ``ranges``
    per section ln f_min, ln f_max / f_min, ln Q_min, ln Q_max / Q_min. The
    design (:meth:`BiquadSections._design`) is recomputed here, then its chain
    rule run backwards; then that of the section's map (kind ``kinds[s]``:
    ``w_linear`` ``(K, 5, 3)``, its MLP's weights ``w_first`` ``(K, C, 3)``,
    ``w_middle`` ``(K, L - 1, C, C)``, ``w_last`` ``(K, 5, C)``, its tanh
    outputs ``hidden`` ``(N, S, L, C)``). Result in ``grad_settings``.
    """
    rows, sections = grad.shape[0], grad.shape[1]
    width = hidden.shape[3]
    grad_o = np.empty(5)
    through = np.empty(width)
    after = np.empty(width)
    grad_in = np.empty(PARAMS_PER_SECTION)
    for n in range(rows):
        for s in range(sections):
            # The design forward (as _design, in float64).
            uf = min(max(settings[n, s, 0], 0.0), 1.0)
            uq = min(max(settings[n, s, 2], 0.0), 1.0)
            unclamped = np.exp(ranges[s, 0] + uf * ranges[s, 1])
            freq = min(max(unclamped, min_hz), max_hz)
            q = np.exp(ranges[s, 2] + uq * ranges[s, 3])
            gain = np.float64(centred[n, s, 1])
            warp = np.tan(np.pi * freq / sample_rate)
            e0 = np.exp(o[n, s, 0])
            e1 = np.exp(o[n, s, 1])
            e2 = np.exp(gain * o[n, s, 2])
            e3 = np.exp(gain * o[n, s, 3])
            e4 = np.exp(gain * o[n, s, 4])
            kp = warp * e0
            qp = q * e1
            kz = kp * e2
            qz = qp * e3
            ratio = kp / kz
            k = e4 * ratio * ratio
            a0 = 1.0 + kp / qp + kp * kp
            a1 = 2.0 * (kp * kp - 1.0)
            a2 = 1.0 - kp / qp + kp * kp
            z0 = 1.0 + kz / qz + kz * kz
            z1 = 2.0 * (kz * kz - 1.0)
            z2 = 1.0 - kz / qz + kz * kz
            # Outputs k z / a0, a1 / a0, a2 / a0 (a0 / a0 = 1 has no gradient).
            gb0, gb1, gb2 = grad[n, s, 0] / a0, grad[n, s, 1] / a0, grad[n, s, 2] / a0
            ga1, ga2 = grad[n, s, 3] / a0, grad[n, s, 4] / a0
            grad_k = gb0 * z0 + gb1 * z1 + gb2 * z2
            ga0 = -(k * grad_k + ga1 * a1 + ga2 * a2) / a0
            gz0, gz1, gz2 = k * gb0, k * gb1, k * gb2
            # bilinear(w, q) = (1 + w / q + w^2, 2 (w^2 - 1), 1 - w / q + w^2)
            grad_kp = (ga0 - ga2) / qp + 2.0 * kp * (ga0 + 2.0 * ga1 + ga2)
            grad_qp = (ga2 - ga0) * kp / (qp * qp)
            grad_kz = (gz0 - gz2) / qz + 2.0 * kz * (gz0 + 2.0 * gz1 + gz2)
            grad_qz = (gz2 - gz0) * kz / (qz * qz)
            # k = e4 (kp / kz)^2, kz = kp e2, qz = qp e3, kp = warp e0, qp = q e1.
            grad_e4 = grad_k * ratio * ratio
            grad_kp += 2.0 * grad_k * k / kp
            grad_kz -= 2.0 * grad_k * k / kz
            grad_kp += grad_kz * e2
            grad_qp += grad_qz * e3
            # e0 = exp(o0), e1 = exp(o1), ei = exp(gain oi) for i = 2, 3, 4.
            grad_o[0] = grad_kp * warp * e0
            grad_o[1] = grad_qp * q * e1
            to2, to3, to4 = grad_kz * kp * e2, grad_qz * qp * e3, grad_e4 * e4
            grad_o[2] = gain * to2
            grad_o[3] = gain * to3
            grad_o[4] = gain * to4
            grad_gain = to2 * o[n, s, 2] + to3 * o[n, s, 3] + to4 * o[n, s, 4]
            # warp = tan(pi freq / rate), freq = clamp(exp(r0 + u0 r1)), q = exp(r2 + u2 r3),
            # u = clamp(settings, 0, 1), gain = 2 settings1 - 1; a clamp passes the gradient
            # strictly inside its range (as torch's clamp does: nothing at either end).
            grad_freq = grad_kp * e0 * (np.pi / sample_rate) * (1.0 + warp * warp)
            inside_f = 0.0 < settings[n, s, 0] < 1.0 and min_hz < unclamped < max_hz
            g0 = grad_freq * unclamped * ranges[s, 1] if inside_f else 0.0
            g1 = 2.0 * grad_gain
            g2 = grad_qp * e1 * q * ranges[s, 3] if 0.0 < settings[n, s, 2] < 1.0 else 0.0
            # The map, its input centred = 2 settings - 1.
            kind = kinds[s]
            _map_adjoint(grad_o, w_linear[kind], w_first[kind], w_middle[kind], w_last[kind],
                         hidden[n, s], through, after, grad_in)
            g0 += 2.0 * grad_in[0]
            g1 += 2.0 * grad_in[1]
            g2 += 2.0 * grad_in[2]
            grad_settings[n, s, 0] = g0
            grad_settings[n, s, 1] = g1
            grad_settings[n, s, 2] = g2


@functools.cache
def _compiled_adjoints() -> tuple[Callable, Callable]:
    """The settings' adjoint loops, compiled on first use by numba.

    :func:`_design_adjoint` (``eq:tcn``) and :func:`_compressor_settings_adjoint`
    (``comp:tcn``). The audio's adjoints are the DSP effects' own
    (:class:`~console_effects.functional.biquad.SectionsCascade`,
    :class:`~console_effects.functional.compressor.ChannelCompressor`).
    """
    compile_loops("eq:tcn")  # only its clear error if numba is missing
    import numba

    global _map_adjoint  # the loops below call it: compiled, they find it compiled
    if not hasattr(_map_adjoint, "py_func"):
        _map_adjoint = numba.njit(cache=True)(_map_adjoint)
    return (numba.njit(cache=True)(_design_adjoint),
            numba.njit(cache=True)(_compressor_settings_adjoint))


class _FrozenDesign(torch.autograd.Function):
    """``(N, 15)`` settings to ``(N, 5, 5)`` coefficients ``(b0, b1, b2, a1, a2)``, maps frozen.

    :meth:`BiquadSections.coefficients`, with the backward pass in one compiled
    loop (:meth:`BiquadSections.settings_gradient`) instead of autograd's graph
    of some hundred small tensor operations, which cost more than filtering a
    few seconds of audio.
    """

    @staticmethod
    def forward(
        ctx: Any, normalised: torch.Tensor, network: BiquadSections, sample_rate: float
    ) -> torch.Tensor:
        kept: dict[str, Any] = {}
        b, a = network.coefficients(normalised, sample_rate, kept)
        ctx.network, ctx.kept, ctx.sample_rate = network, kept, sample_rate
        ctx.dtype = normalised.dtype
        return torch.cat([b, a[..., 1:]], dim=-1)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None, None]:
        grad_settings = ctx.network.settings_gradient(grad, ctx.kept, ctx.sample_rate)
        return grad_settings.to(ctx.dtype), None, None


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
    differently. The filtering is the compiled biquad cascade of ``eq:dsp``
    with its block-wise compiled adjoint
    (:class:`~console_effects.functional.biquad.SectionsCascade`); the
    backward pass of the design from the settings when the maps are frozen
    (as a console trains) is this module's own compiled loop
    (:func:`_design_adjoint`): exact, and the forward+backward costs 2.5 to 3
    times the forward pass (2.5 and 3.0 in the last two runs of
    ``benchmarks/bench_fast_effects.py``; 4.4 with autograd's graph and the
    cascade's earlier one-loop adjoint; ``docs/emulators.rst``).

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
        self._range_array = np.asarray(self._log_ranges, dtype=np.float64)
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
        self, normalised: torch.Tensor, sample_rate: float, kept: dict[str, Any] | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Float64 ``(b, a)``, each ``(N, 5, 3)``, of the whole EQ for ``(N, 15)`` settings.

        Each kind's map runs once on all its sections (the three bells as one
        batch). With ``kept``, what :meth:`settings_gradient` needs goes there.
        """
        n, sections = normalised.shape[0], len(SECTION_KINDS)
        settings = normalised.reshape(n, sections, PARAMS_PER_SECTION)
        centred = _centred(settings)
        parts, order, hidden = [], [], []
        for kind in self.sections:
            indices = [i for i, k in enumerate(SECTION_KINDS) if k == kind]
            rows = centred[:, indices].reshape(-1, PARAMS_PER_SECTION)
            if kept is None:
                mapped = self.sections[kind](rows)
            else:
                mapped, layers = self.sections[kind].forward_keeping(rows)
                hidden.append((indices, layers))
            parts.append(mapped.reshape(n, len(indices), -1))
            order += indices
        o = torch.cat(parts, dim=1)
        if order != sorted(order):
            o = o[:, [order.index(i) for i in range(sections)]]
        o = o.double()
        if kept is not None:
            kept.update(o=o, settings=settings, centred=centred, hidden=hidden)
        return self._design(o, settings, range(sections), sample_rate)

    def settings_gradient(
        self, grad: torch.Tensor, kept: dict[str, Any], sample_rate: float
    ) -> torch.Tensor:
        """Float64 gradient of the ``(N, 15)`` settings for that of the ``(N, 5, 5)`` coefficients.

        ``grad`` is the gradient of ``(b0, b1, b2, a1, a2)`` per section (``a0 = 1``
        whatever the settings), ``kept`` what :meth:`coefficients` kept. The
        chain rule through the design and the maps, their weights taken as
        constants, in one compiled loop (:func:`_design_adjoint`).
        """
        n, sections = grad.shape[0], len(SECTION_KINDS)
        kinds = list(self.sections)
        maps = [self.sections[kind] for kind in kinds]
        linears = [[layer for layer in m.mlp if isinstance(layer, nn.Linear)] for m in maps]

        def stacked(weights: list[torch.Tensor]) -> np.ndarray:
            return torch.stack(weights).detach().double().numpy()

        depth, width = len(linears[0]) - 1, self.config.channels
        hidden = np.empty((n, sections, depth, width), dtype=np.float32)
        for indices, layers in kept["hidden"]:
            for i, layer in enumerate(layers):
                hidden[:, indices, i] = layer.detach().reshape(n, len(indices), width).numpy()
        middle = (stacked([torch.stack([m.weight for m in ls[1:-1]]) for ls in linears])
                  if depth > 1 else np.zeros((len(maps), 0, width, width)))
        grad_settings = np.empty((n, sections, PARAMS_PER_SECTION))
        _compiled_adjoints()[0](
            grad.detach().double().contiguous().numpy(), kept["o"].detach().numpy(),
            kept["settings"].detach().double().contiguous().numpy(),
            kept["centred"].detach().contiguous().numpy(), self._range_array, float(sample_rate),
            MIN_FREQUENCY_HZ, MAX_FREQUENCY_RATIO * sample_rate,
            np.asarray([kinds.index(kind) for kind in SECTION_KINDS]),
            stacked([m.linear.weight for m in maps]), stacked([ls[0].weight for ls in linears]),
            middle, stacked([ls[-1].weight for ls in linears]), hidden, grad_settings,
        )
        return torch.from_numpy(grad_settings.reshape(n, -1))

    def forward(
        self, x: torch.Tensor, normalised: torch.Tensor, sample_rate: float
    ) -> torch.Tensor:
        n, channels, length = x.shape
        if x.device.type != "cpu" or x.dtype not in (torch.float32, torch.float64):
            return biquad_cascade(x, *self.coefficients(normalised, sample_rate))
        if (torch.is_grad_enabled() and normalised.requires_grad and self.config.layers > 0
                and not any(p.requires_grad for p in self.parameters())):
            c = _FrozenDesign.apply(normalised, self, sample_rate)  # the same numbers
        else:  # nothing to differentiate, or the maps' weights too (training them): autograd
            b, a = self.coefficients(normalised, sample_rate)
            c = torch.cat([b, a[..., 1:]], dim=-1)
        if channels > 1:
            c = c.repeat_interleave(channels, dim=0)  # one row per channel
        keep = torch.is_grad_enabled() and (x.requires_grad or c.requires_grad)
        y = SectionsCascade.apply(x.reshape(n * channels, length), c, keep)
        return y.reshape(n, channels, length)

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
#: dB of knee per unit of the map's last output, before the softplus.
_KNEE_SCALE_DB = 6.0
#: Sharpness (1/dB) of the softplus that keeps the learned knee width positive.
_KNEE_SHARPNESS = 4.0
#: torch's softplus is the identity where sharpness x input exceeds this.
_SOFTPLUS_THRESHOLD = 20.0


def _compressor_settings_adjoint(
    grad: np.ndarray, normalised: np.ndarray, knobs: np.ndarray, o: np.ndarray,
    span: np.ndarray, log: np.ndarray, w_linear: np.ndarray,
    w_first: np.ndarray, w_middle: np.ndarray, w_last: np.ndarray, hidden: np.ndarray,
    grad_settings: np.ndarray,
) -> None:
    """Gradient of ``(N, 6)`` normalised knobs for that of the inner settings (float64).

    :meth:`FeedForwardCompressor.inner_settings` backwards, its map's weights
    constants: ``knobs`` the denormalised knobs (per column ``log`` if on a
    log scale and ``span`` the range, of the log if so, as :func:`denormalise`
    reads the ParamSpecs), ``o`` the
    map's outputs, ``hidden`` ``(N, L, C)`` its tanh outputs, the weights as
    :func:`_map_adjoint` takes them.
    """
    rows, columns = grad.shape
    mapped = o.shape[1]
    width = hidden.shape[2]
    grad_o = np.empty(mapped)
    grad_knobs = np.empty(columns)
    grad_in = np.empty(mapped)
    through = np.empty(width)
    after = np.empty(width)
    for n in range(rows):
        g = grad[n]
        # threshold = knob + 12 o0
        grad_knobs[0] = g[0]
        grad_o[0] = _THRESHOLD_SCALE_DB * g[0]
        # ratio = exp(ln(knob) exp(o1))
        stretch = np.exp(o[n, 1])
        ratio = np.exp(np.log(knobs[n, 1]) * stretch)
        grad_knobs[1] = g[1] * ratio * stretch / knobs[n, 1]
        grad_o[1] = g[1] * ratio * np.log(knobs[n, 1]) * stretch
        # attack, release = knob exp(o2), knob exp(o3)
        for i in (2, 3):
            scale = np.exp(o[n, i])
            grad_knobs[i] = g[i] * scale
            grad_o[i] = g[i] * knobs[n, i] * scale
        # knee = softplus(knob + 6 o4) at sharpness 4 (torch's: the identity past its threshold)
        sharp = _KNEE_SHARPNESS * (knobs[n, 4] + _KNEE_SCALE_DB * o[n, 4])
        grad_z = g[4] if sharp > _SOFTPLUS_THRESHOLD else g[4] / (1.0 + np.exp(-sharp))
        grad_knobs[4] = grad_z
        grad_o[4] = _KNEE_SCALE_DB * grad_z
        for i in range(mapped, columns):  # make-up: the knob itself
            grad_knobs[i] = g[i]
        # The knobs from the normalised settings (a clamp passes nothing at either end).
        for i in range(columns):
            u = normalised[n, i]
            if 0.0 < u < 1.0:
                grad_settings[n, i] = grad_knobs[i] * span[i] * (knobs[n, i] if log[i] else 1.0)
            else:
                grad_settings[n, i] = 0.0
        # The map, its input centred = 2 settings - 1.
        _map_adjoint(grad_o, w_linear, w_first, w_middle, w_last, hidden[n], through, after,
                     grad_in)
        for i in range(mapped):
            grad_settings[n, i] += 2.0 * grad_in[i]


class _FrozenCompressorSettings(torch.autograd.Function):
    """``(N, 6)`` normalised knobs to the six inner settings, the map frozen.

    :meth:`FeedForwardCompressor.inner_settings`, with the backward pass one
    compiled loop (:func:`_compressor_settings_adjoint`) instead of
    autograd's graph of some sixty small tensor operations.
    """

    @staticmethod
    def forward(
        ctx: Any, normalised: torch.Tensor, network: FeedForwardCompressor
    ) -> tuple[torch.Tensor, ...]:
        kept: dict[str, Any] = {}
        settings = network.inner_settings(normalised, kept)
        ctx.network, ctx.kept, ctx.dtype = network, kept, normalised.dtype
        return tuple(settings[name] for name in network.names)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, *grads: torch.Tensor) -> tuple[torch.Tensor, None]:
        grad = torch.stack(grads, 1).double().numpy()
        return torch.from_numpy(ctx.network.settings_gradient(grad, ctx.kept)).to(ctx.dtype), None


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
    cost. A stereo track has one detector following its louder channel
    (stereo link), so its image holds still; JUCE's detectors are per channel, which
    the mono tracks it was fitted on cannot tell apart.

    The samples pass through ``comp:dsp``'s compiled kernels. On a CPU, with
    gradients wanted, the backward pass is ``comp:dsp``'s compiled loop
    (:class:`~console_effects.functional.compressor.ChannelCompressor`), and with the
    map frozen (as a console trains) so is the knobs' gradient
    (:func:`_compressor_settings_adjoint`): exact, the outputs those of
    ``compress`` sample for sample, and the forward+backward costs under 2
    times the forward pass (1.4 in the last run of
    ``benchmarks/bench_fast_effects.py``, 1.8 in a longer timing in turns;
    about 3 with autograd's graph; ``docs/emulators.rst``).
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
        # denormalise_columns' reading of the ParamSpecs, for the compiled settings gradient.
        log = [spec.scale == "log" for spec in specs]
        span = [math.log(spec.maximum / spec.minimum) if is_log else spec.maximum - spec.minimum
                for spec, is_log in zip(specs, log, strict=True)]
        self._spec_arrays = (np.asarray(span), np.asarray(log))

    @property
    def receptive_field(self) -> float:
        """The recursive detector remembers the whole past."""
        return math.inf

    def inner_settings(
        self, normalised: torch.Tensor, kept: dict[str, Any] | None = None
    ) -> dict[str, torch.Tensor]:
        """The ``(N,)`` settings the inner compressor runs at, for ``(N, 6)`` normalised knobs.

        With ``kept``, what :meth:`settings_gradient` needs goes there.
        """
        denormalised = denormalise_columns(self.specs, normalised)
        knobs = dict(zip(self.names, denormalised.unbind(1), strict=True))
        centred = _centred(normalised[:, : len(COMP_MAPPED)])
        if kept is None:
            o = self.map(centred)
        else:
            o, hidden = self.map.forward_keeping(centred)
        o = o.to(knobs["ratio"].dtype)
        if kept is not None:
            kept.update(normalised=normalised, knobs=denormalised, o=o, hidden=hidden)
        return {
            "threshold_db": knobs["threshold_db"] + _THRESHOLD_SCALE_DB * o[:, 0],
            "ratio": torch.exp(torch.log(knobs["ratio"]) * torch.exp(o[:, 1])),
            "attack_ms": knobs["attack_ms"] * torch.exp(o[:, 2]),
            "release_ms": knobs["release_ms"] * torch.exp(o[:, 3]),
            "knee_db": nn.functional.softplus(knobs["knee_db"] + _KNEE_SCALE_DB * o[:, 4],
                                              beta=_KNEE_SHARPNESS),
            "makeup_db": knobs["makeup_db"],
        }

    def settings_gradient(self, grad: np.ndarray, kept: dict[str, Any]) -> np.ndarray:
        """Float64 gradient ``(N, 6)`` of the normalised knobs for that of the inner settings.

        ``grad`` ``(N, 6)`` float64 in :attr:`names`' order, ``kept`` what
        :meth:`inner_settings` kept. The chain rule through the settings and
        the map, its weights taken as constants, in one compiled loop.
        """
        linears = [layer for layer in self.map.mlp if isinstance(layer, nn.Linear)]

        def weights(*layers: nn.Linear) -> np.ndarray:
            return torch.stack([layer.weight for layer in layers]).detach().double().numpy()

        width = self.config.channels
        middle = (weights(*linears[1:-1]) if len(linears) > 2
                  else np.zeros((0, width, width)))
        hidden = torch.stack(kept["hidden"], 1).detach().numpy()
        grad_settings = np.empty_like(grad)
        _compiled_adjoints()[1](
            np.ascontiguousarray(grad), kept["normalised"].detach().double().numpy(),
            kept["knobs"].detach().double().numpy(), kept["o"].detach().double().numpy(),
            *self._spec_arrays, weights(self.map.linear)[0], weights(linears[0])[0], middle,
            weights(linears[-1])[0], hidden, grad_settings,
        )
        return grad_settings

    def forward(
        self, x: torch.Tensor, normalised: torch.Tensor, sample_rate: float
    ) -> torch.Tensor:
        normalised = normalised.to(x.dtype)
        compiled = (x.device.type == "cpu" and x.dtype in (torch.float32, torch.float64)
                    and torch.is_grad_enabled())
        if (compiled and normalised.requires_grad and self.config.layers > 0
                and not any(p.requires_grad for p in self.parameters())):
            settings = _FrozenCompressorSettings.apply(normalised, self)  # the same numbers
        else:
            p = self.inner_settings(normalised)
            settings = tuple(p[name] for name in self.names)
        linked = x.shape[1] > 1  # a stereo track: one detector, so its image cannot wander
        if compiled and not linked and (x.requires_grad or any(s.requires_grad for s in settings)):
            return ChannelCompressor.apply(x, *settings, sample_rate, "exponential")
        return compress(x, *settings, sample_rate, "exponential", stereo_link=linked)
