"""Audio-EQ-cookbook biquads: coefficients, a cascade filter and its frequency response.

The coefficient formulas are R. Bristow-Johnson's "Cookbook formulae for audio
EQ biquad filter coefficients" with the bandwidth given as Q (``alpha =
sin(w0) / (2 Q)``, ``A = 10 ** (gain_db / 40)``), the same definitions JUCE and
so pedalboard use, so a band here sounds like the band there.

Coefficients are computed in float64 whatever the input dtype: a low,
narrow band puts its poles within 1e-4 of the unit circle, where float32
cosines alone would move the centre frequency audibly. The cascade runs in
float64 for the same reason (see :func:`biquad_cascade`).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
import torchaudio.functional as taf

from console_effects.functional.compiled import compile_loops

try:  # the compiled all-pole stage of torchaudio's lfilter, without its slow FIR stage
    from torchaudio.functional.filtering import DifferentiableIIR as _TorchaudioIIR
except ImportError:  # a torchaudio that moved it: fall back to the public lfilter
    _TorchaudioIIR = None

#: Centre and corner frequencies are kept below this fraction of the sample rate,
#: where ``sin(w0)`` (and so the pole radius margin) is still comfortably above zero.
MAX_FREQUENCY_RATIO = 0.49
#: Below this many hertz a band's poles are too close to z = 1 to be useful.
MIN_FREQUENCY_HZ = 1.0


def _cookbook_terms(
    freq_hz: torch.Tensor, gain_db: torch.Tensor, q: torch.Tensor, sample_rate: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(A, cos w0, alpha, sqrt A)`` in float64, the shared terms of every cookbook filter."""
    freq = torch.as_tensor(freq_hz).double()
    gain = torch.as_tensor(gain_db).double()
    q = torch.as_tensor(q).double()
    freq = freq.clamp(MIN_FREQUENCY_HZ, MAX_FREQUENCY_RATIO * sample_rate)
    w0 = (2.0 * math.pi / sample_rate) * freq
    amplitude = torch.pow(10.0, gain / 40.0)
    alpha = torch.sin(w0) / (2.0 * q)
    return amplitude, torch.cos(w0), alpha, torch.sqrt(amplitude)


def _normalised(
    b: list[torch.Tensor], a: list[torch.Tensor]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack ``[b0, b1, b2]`` and ``[a0, a1, a2]`` into ``(..., 3)`` with ``a0 = 1``."""
    b_stacked = torch.stack(torch.broadcast_tensors(*b), dim=-1)
    a_stacked = torch.stack(torch.broadcast_tensors(*a), dim=-1)
    a0 = a_stacked[..., :1]
    return b_stacked / a0, a_stacked / a0


def peaking_coefficients(
    freq_hz: torch.Tensor, gain_db: torch.Tensor, q: torch.Tensor, sample_rate: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Bell boosting or cutting ``gain_db`` around ``freq_hz``; ``(b, a)``, each ``(..., 3)``."""
    amplitude, cos_w0, alpha, _ = _cookbook_terms(freq_hz, gain_db, q, sample_rate)
    b = [1.0 + alpha * amplitude, -2.0 * cos_w0, 1.0 - alpha * amplitude]
    a = [1.0 + alpha / amplitude, -2.0 * cos_w0, 1.0 - alpha / amplitude]
    return _normalised(b, a)


def low_shelf_coefficients(
    freq_hz: torch.Tensor, gain_db: torch.Tensor, q: torch.Tensor, sample_rate: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Shelf moving everything below ``freq_hz`` by ``gain_db``; ``(b, a)``, each ``(..., 3)``."""
    amplitude, cos_w0, alpha, sqrt_amplitude = _cookbook_terms(freq_hz, gain_db, q, sample_rate)
    plus, minus = amplitude + 1.0, amplitude - 1.0
    beta = 2.0 * sqrt_amplitude * alpha
    b = [
        amplitude * (plus - minus * cos_w0 + beta),
        2.0 * amplitude * (minus - plus * cos_w0),
        amplitude * (plus - minus * cos_w0 - beta),
    ]
    a = [plus + minus * cos_w0 + beta, -2.0 * (minus + plus * cos_w0), plus + minus * cos_w0 - beta]
    return _normalised(b, a)


def high_shelf_coefficients(
    freq_hz: torch.Tensor, gain_db: torch.Tensor, q: torch.Tensor, sample_rate: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Shelf moving everything above ``freq_hz`` by ``gain_db``; ``(b, a)``, each ``(..., 3)``."""
    amplitude, cos_w0, alpha, sqrt_amplitude = _cookbook_terms(freq_hz, gain_db, q, sample_rate)
    plus, minus = amplitude + 1.0, amplitude - 1.0
    beta = 2.0 * sqrt_amplitude * alpha
    b = [
        amplitude * (plus + minus * cos_w0 + beta),
        -2.0 * amplitude * (minus + plus * cos_w0),
        amplitude * (plus + minus * cos_w0 - beta),
    ]
    a = [plus - minus * cos_w0 + beta, 2.0 * (minus - plus * cos_w0), plus - minus * cos_w0 - beta]
    return _normalised(b, a)


def _three_tap_fir(x: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``b0 x[n] + b1 x[n-1] + b2 x[n-2]`` for ``x`` ``(C, N, T)`` and taps ``b`` ``(N, 3)``.

    A sliding-window product: as fast as torchaudio's grouped ``conv1d`` on long
    rows and ~10x faster on many short ones, where that convolution loops per
    row in float64 on a CPU.
    """
    windows = F.pad(x, (2, 0)).unfold(-1, 3, 1)  # (C, N, T, 3): x[n-2], x[n-1], x[n]
    return torch.einsum("cntk,nk->cnt", windows, b.flip(-1))


def _all_pole(x: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """``y[n] = x[n] - a1 y[n-1] - a2 y[n-2]`` for ``x`` ``(C, N, T)`` and ``a`` ``(N, 3)``."""
    if _TorchaudioIIR is not None:
        return _TorchaudioIIR.apply(x, a)
    unit_numerator = torch.zeros_like(a)
    unit_numerator[:, 0] = 1.0
    return taf.lfilter(x, a, unit_numerator, clamp=False, batching=True)


def _torchaudio_cascade(x: torch.Tensor, b: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """The cascade section by section with torch ops and torchaudio's IIR loop (any device)."""
    # (C, N, T): torchaudio's loop takes one filter per row of the middle axis.
    y = x.double().transpose(0, 1)
    for section in range(b.shape[1]):
        zeros_only = _three_tap_fir(y, b[:, section])
        y = _all_pole(zeros_only.contiguous(), a[:, section].contiguous())
    return y.transpose(0, 1).to(x.dtype)


# -- the compiled cascade (CPU) ------------------------------------------------------------
#
# Five sections per pass: the EQ's shelf, three bells and shelf in one loop over the samples,
# each a direct form II transposed biquad whose state lives in registers. A cascade with
# fewer sections is padded with identity sections (exact: they add and multiply by 0 and 1).

#: Sections the compiled loop runs per pass over the audio.
KERNEL_SECTIONS = 5


#: Zeros before the first sample of the signals kept for the backward pass (x[n-1], x[n-2]).
_HISTORY = 2


def _cascade_forward(x: np.ndarray, c: np.ndarray, y: np.ndarray, stages: np.ndarray) -> None:
    """Filter rows ``x`` ``(R, T)`` through five biquads ``c`` ``(R, 5, 5)`` into ``y``.

    ``c[r, s]`` is ``(b0, b1, b2, a1, a2)``. When ``stages`` is ``(6, R, 2 + T)``
    it receives, in float64 after two zeros, the input and every section's
    output (the backward pass reads them); pass a ``(0, 0, 0)`` array to skip that.
    """
    rows, length = x.shape
    keep = stages.shape[0] > 0
    for r in range(rows):
        p00, p01, p02, q01, q02 = c[r, 0, 0], c[r, 0, 1], c[r, 0, 2], c[r, 0, 3], c[r, 0, 4]
        p10, p11, p12, q11, q12 = c[r, 1, 0], c[r, 1, 1], c[r, 1, 2], c[r, 1, 3], c[r, 1, 4]
        p20, p21, p22, q21, q22 = c[r, 2, 0], c[r, 2, 1], c[r, 2, 2], c[r, 2, 3], c[r, 2, 4]
        p30, p31, p32, q31, q32 = c[r, 3, 0], c[r, 3, 1], c[r, 3, 2], c[r, 3, 3], c[r, 3, 4]
        p40, p41, p42, q41, q42 = c[r, 4, 0], c[r, 4, 1], c[r, 4, 2], c[r, 4, 3], c[r, 4, 4]
        s00 = s01 = s10 = s11 = s20 = s21 = s30 = s31 = s40 = s41 = 0.0
        if keep:
            for stage in range(KERNEL_SECTIONS + 1):
                for k in range(_HISTORY):
                    stages[stage, r, k] = 0.0
        for n in range(length):
            u = np.float64(x[r, n])
            v0 = p00 * u + s00
            s00 = p01 * u - q01 * v0 + s01
            s01 = p02 * u - q02 * v0
            v1 = p10 * v0 + s10
            s10 = p11 * v0 - q11 * v1 + s11
            s11 = p12 * v0 - q12 * v1
            v2 = p20 * v1 + s20
            s20 = p21 * v1 - q21 * v2 + s21
            s21 = p22 * v1 - q22 * v2
            v3 = p30 * v2 + s30
            s30 = p31 * v2 - q31 * v3 + s31
            s31 = p32 * v2 - q32 * v3
            v4 = p40 * v3 + s40
            s40 = p41 * v3 - q41 * v4 + s41
            s41 = p42 * v3 - q42 * v4
            y[r, n] = v4
            if keep:
                m = n + _HISTORY
                stages[0, r, m] = u
                stages[1, r, m] = v0
                stages[2, r, m] = v1
                stages[3, r, m] = v2
                stages[4, r, m] = v3
                stages[5, r, m] = v4


def _cascade_backward(
    grad: np.ndarray, c: np.ndarray, stages: np.ndarray, grad_x: np.ndarray, grad_c: np.ndarray
) -> None:
    """Adjoint of :func:`_cascade_forward`: one pass backwards in time through all sections.

    A section is an FIR ``q = B u`` then an all-pole ``y = q / A``. Given the
    output gradient ``g``, ``w = g / A`` run anti-causally is the gradient of
    ``q``; then ``dL/db_k = sum w[n] u[n-k]``, ``dL/da_k = -sum w[n] y[n-k]`` and
    the input's gradient is ``sum_k b_k w[n+k]``, which is the output gradient
    of the section before. ``stages`` is what the forward pass kept. Unrolled
    like the forward pass, so the five sections' recursions overlap.
    """
    rows, length = grad.shape
    for r in range(rows):
        p00, p01, p02, q01, q02 = c[r, 0, 0], c[r, 0, 1], c[r, 0, 2], c[r, 0, 3], c[r, 0, 4]
        p10, p11, p12, q11, q12 = c[r, 1, 0], c[r, 1, 1], c[r, 1, 2], c[r, 1, 3], c[r, 1, 4]
        p20, p21, p22, q21, q22 = c[r, 2, 0], c[r, 2, 1], c[r, 2, 2], c[r, 2, 3], c[r, 2, 4]
        p30, p31, p32, q31, q32 = c[r, 3, 0], c[r, 3, 1], c[r, 3, 2], c[r, 3, 3], c[r, 3, 4]
        p40, p41, p42, q41, q42 = c[r, 4, 0], c[r, 4, 1], c[r, 4, 2], c[r, 4, 3], c[r, 4, 4]
        w01 = w02 = w11 = w12 = w21 = w22 = w31 = w32 = w41 = w42 = 0.0  # w[n+1], w[n+2]
        g0b0 = g0b1 = g0b2 = g0a1 = g0a2 = 0.0
        g1b0 = g1b1 = g1b2 = g1a1 = g1a2 = 0.0
        g2b0 = g2b1 = g2b2 = g2a1 = g2a2 = 0.0
        g3b0 = g3b1 = g3b2 = g3a1 = g3a2 = 0.0
        g4b0 = g4b1 = g4b2 = g4a1 = g4a2 = 0.0
        # The input, then the output of section 0, 1, ... 4 (section k reads y(k-1), gives yk).
        x0, y0, y1, y2, y3, y4 = (stages[0, r], stages[1, r], stages[2, r], stages[3, r],
                                  stages[4, r], stages[5, r])
        for n in range(length - 1, -1, -1):
            m = n + _HISTORY
            g = grad[r, n]
            w = g - q41 * w41 - q42 * w42
            g4b0 += w * y3[m]
            g4b1 += w * y3[m - 1]
            g4b2 += w * y3[m - 2]
            g4a1 -= w * y4[m - 1]
            g4a2 -= w * y4[m - 2]
            g = p40 * w + p41 * w41 + p42 * w42
            w42 = w41
            w41 = w
            w = g - q31 * w31 - q32 * w32
            g3b0 += w * y2[m]
            g3b1 += w * y2[m - 1]
            g3b2 += w * y2[m - 2]
            g3a1 -= w * y3[m - 1]
            g3a2 -= w * y3[m - 2]
            g = p30 * w + p31 * w31 + p32 * w32
            w32 = w31
            w31 = w
            w = g - q21 * w21 - q22 * w22
            g2b0 += w * y1[m]
            g2b1 += w * y1[m - 1]
            g2b2 += w * y1[m - 2]
            g2a1 -= w * y2[m - 1]
            g2a2 -= w * y2[m - 2]
            g = p20 * w + p21 * w21 + p22 * w22
            w22 = w21
            w21 = w
            w = g - q11 * w11 - q12 * w12
            g1b0 += w * y0[m]
            g1b1 += w * y0[m - 1]
            g1b2 += w * y0[m - 2]
            g1a1 -= w * y1[m - 1]
            g1a2 -= w * y1[m - 2]
            g = p10 * w + p11 * w11 + p12 * w12
            w12 = w11
            w11 = w
            w = g - q01 * w01 - q02 * w02
            g0b0 += w * x0[m]
            g0b1 += w * x0[m - 1]
            g0b2 += w * x0[m - 2]
            g0a1 -= w * y0[m - 1]
            g0a2 -= w * y0[m - 2]
            g = p00 * w + p01 * w01 + p02 * w02
            w02 = w01
            w01 = w
            grad_x[r, n] = g
        grad_c[r, 0, 0], grad_c[r, 0, 1], grad_c[r, 0, 2] = g0b0, g0b1, g0b2
        grad_c[r, 0, 3], grad_c[r, 0, 4] = g0a1, g0a2
        grad_c[r, 1, 0], grad_c[r, 1, 1], grad_c[r, 1, 2] = g1b0, g1b1, g1b2
        grad_c[r, 1, 3], grad_c[r, 1, 4] = g1a1, g1a2
        grad_c[r, 2, 0], grad_c[r, 2, 1], grad_c[r, 2, 2] = g2b0, g2b1, g2b2
        grad_c[r, 2, 3], grad_c[r, 2, 4] = g2a1, g2a2
        grad_c[r, 3, 0], grad_c[r, 3, 1], grad_c[r, 3, 2] = g3b0, g3b1, g3b2
        grad_c[r, 3, 3], grad_c[r, 3, 4] = g3a1, g3a2
        grad_c[r, 4, 0], grad_c[r, 4, 1], grad_c[r, 4, 2] = g4b0, g4b1, g4b2
        grad_c[r, 4, 3], grad_c[r, 4, 4] = g4a1, g4a2


@functools.cache
def compiled_cascade() -> tuple[Callable, Callable]:
    """The cascade's forward and adjoint loops, compiled on first use."""
    return compile_loops("eq:dsp", _cascade_forward, _cascade_backward)


class _CompiledCascade(torch.autograd.Function):
    """Five biquads in series per row, compiled, with an exact compiled backward pass."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, c: torch.Tensor, keep: bool) -> torch.Tensor:
        forward_loop, _ = compiled_cascade()
        rows, length = x.shape
        x_np = x.detach().contiguous().numpy()
        y = np.empty((rows, length), dtype=x_np.dtype)
        shape = (KERNEL_SECTIONS + 1, rows, _HISTORY + length) if keep else (0, 0, 0)
        stages = np.empty(shape)
        forward_loop(x_np, c.detach().contiguous().numpy(), y, stages)
        if keep:  # the signals between sections, freed with the graph like any saved tensor
            ctx.save_for_backward(c, torch.from_numpy(stages))
            ctx.input_dtype = x.dtype
        return torch.from_numpy(y)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, None]:
        c, stages = ctx.saved_tensors
        _, backward_loop = compiled_cascade()
        grad_np = grad.detach().to(torch.float64).contiguous().numpy()
        grad_x = np.empty(grad_np.shape, dtype=np.float64)
        grad_c = np.empty(tuple(c.shape), dtype=np.float64)
        backward_loop(grad_np, c.detach().contiguous().numpy(), stages.numpy(), grad_x, grad_c)
        return torch.from_numpy(grad_x).to(ctx.input_dtype), torch.from_numpy(grad_c), None


def _compiled_cascade(x: torch.Tensor, b: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """The cascade on a CPU: rows of ``x`` ``(N, C, T)``, five sections per compiled pass."""
    n, channels, length = x.shape
    b, a = b.double(), a.double()
    b, a = b / a[..., :1], a / a[..., :1]
    sections = b.shape[1]
    padded = -(-sections // KERNEL_SECTIONS) * KERNEL_SECTIONS
    coefficients = torch.cat([b, a[..., 1:]], dim=-1)  # (N, S, 5): b0 b1 b2 a1 a2
    if padded > sections:
        identity = coefficients.new_tensor([1.0, 0.0, 0.0, 0.0, 0.0])
        coefficients = torch.cat(
            [coefficients, identity.expand(n, padded - sections, 5)], dim=1
        )
    coefficients = coefficients.repeat_interleave(channels, dim=0)  # one row per channel
    y = x.reshape(n * channels, length)
    if y.dtype not in (torch.float32, torch.float64) or padded > KERNEL_SECTIONS:
        y = y.double()
    keep = torch.is_grad_enabled() and (x.requires_grad or coefficients.requires_grad)
    for start in range(0, padded, KERNEL_SECTIONS):
        y = _CompiledCascade.apply(y, coefficients[:, start:start + KERNEL_SECTIONS], keep)
    return y.reshape(n, channels, length).to(x.dtype)


def biquad_cascade(x: torch.Tensor, b: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """Filter ``(N, C, T)`` audio through ``S`` biquads in series, one set per row.

    ``b`` and ``a`` are ``(N, S, 3)``. Exact time-domain recursion from a zero
    state, differentiable in the audio and every coefficient. On a CPU the
    sections run together in one compiled loop (numba; direct form II
    transposed, the states in registers) whose backward pass is its exact
    adjoint, one loop backwards in time; elsewhere they run one by one, the
    zeros as a sliding three-tap product and the poles by torchaudio's IIR
    loop. It runs in float64 and returns the input's dtype: the recursion of a
    low band amplifies float32 rounding by the band's pole gain (up to ~1e5 at
    20 Hz, 38 dB SNR). See benchmarks/eq_filter_candidates.py.
    """
    if b.shape != a.shape or b.dim() != 3 or b.shape[-1] != 3 or b.shape[0] != x.shape[0]:
        raise ValueError(
            f"biquad coefficients must both be (N={x.shape[0]}, S, 3); got b "
            f"{tuple(b.shape)} and a {tuple(a.shape)}."
        )
    if x.device.type == "cpu" and b.device.type == "cpu" and b.shape[1] > 0:
        return _compiled_cascade(x, b, a)
    return _torchaudio_cascade(x, b.double(), a.double())


def biquad_frequency_response(
    b: torch.Tensor, a: torch.Tensor, freqs_hz: torch.Tensor, sample_rate: float
) -> torch.Tensor:
    """Complex ``H(e^{jw})`` ``(..., F)`` of biquads ``(..., 3)`` at ``freqs_hz`` ``(F,)``."""
    w = (2.0 * math.pi / sample_rate) * torch.as_tensor(freqs_hz, dtype=torch.float64)
    z_inv = torch.polar(torch.ones_like(w), -w)  # e^{-jw}, (F,)
    b, a = b.double()[..., None], a.double()[..., None]
    numerator = b[..., 0, :] + z_inv * (b[..., 1, :] + z_inv * b[..., 2, :])
    denominator = a[..., 0, :] + z_inv * (a[..., 1, :] + z_inv * a[..., 2, :])
    return numerator / denominator


def magnitude_db(response: torch.Tensor, floor_db: float = -240.0) -> torch.Tensor:
    """``20 log10 |H|`` with a floor, so a zero of the response gives a finite number."""
    power = response.real.square() + response.imag.square()
    return 10.0 * torch.log10(power.clamp_min(10.0 ** (floor_db / 10.0)))
