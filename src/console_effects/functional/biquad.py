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
#
# The forward loop keeps, when gradients are wanted, the input and every section's output in
# float64 after _HISTORY zeros. The backward pass (_cascade_adjoint, shared by eq:dsp and
# eq:tcn) is the exact adjoint arranged for a processor: per block of samples, one loop
# backwards in time runs the five sections' adjoint recursions (their only serial work) and
# keeps each section's adjoint; then, per section, the five sums its coefficients' gradients
# are (products of that adjoint with the section's input and output at lags 0 to 2) run as
# plain loops over the block, which the compiler vectorises. Riding along in the recursion,
# one sample at a time, those 25 sums cost more than the recursions.

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


#: Samples per block of the adjoint: the block's adjoints and signals stay in the L2 cache.
_ADJOINT_BLOCK = 2048
#: Floating-point liberties of the adjoint loop: fused multiply-adds, and sums in any order
#: (which lets the 25 sums vectorise). Rounding differs from a sequential sum by ~1e-16
#: relative; the forward pass takes none.
_ADJOINT_FASTMATH = {"contract", "reassoc"}


def _cascade_adjoint(
    grad: np.ndarray, c: np.ndarray, stages: np.ndarray, grad_x: np.ndarray, grad_c: np.ndarray,
    block: int,
) -> None:
    """Gradients of the five-section cascade's input and coefficients (rows ``(R, T)``).

    ``c`` ``(R, 5, 5)`` holds ``(b0, b1, b2, a1, a2)`` per section, ``stages``
    ``(6, R, 2 + T)`` what the forward loop kept. A section is an FIR ``q = B u``
    then an all-pole ``y = q / A``; given its output's gradient ``g``, the
    adjoint ``w = g / A`` run backwards in time is the gradient of ``q``, so
    ``dL/db_k = sum w[n] u[n-k]``, ``dL/da_k = -sum w[n] y[n-k]``, and the
    gradient of the section's input, ``sum_k b_k w[n+k]``, is the output gradient
    of the section before. Within a sample, a section's ``w`` waits on one
    subtraction and the next section's ``g`` on one multiply-add: the terms of
    the past are summed first, so the five recursions overlap in the processor.
    """
    rows, length = grad.shape
    adjoint = np.empty((KERNEL_SECTIONS, block))
    w0b, w1b, w2b, w3b, w4b = adjoint[0], adjoint[1], adjoint[2], adjoint[3], adjoint[4]
    for r in range(rows):
        p00, p01, p02, q01, q02 = c[r, 0, 0], c[r, 0, 1], c[r, 0, 2], c[r, 0, 3], c[r, 0, 4]
        p10, p11, p12, q11, q12 = c[r, 1, 0], c[r, 1, 1], c[r, 1, 2], c[r, 1, 3], c[r, 1, 4]
        p20, p21, p22, q21, q22 = c[r, 2, 0], c[r, 2, 1], c[r, 2, 2], c[r, 2, 3], c[r, 2, 4]
        p30, p31, p32, q31, q32 = c[r, 3, 0], c[r, 3, 1], c[r, 3, 2], c[r, 3, 3], c[r, 3, 4]
        p40, p41, p42, q41, q42 = c[r, 4, 0], c[r, 4, 1], c[r, 4, 2], c[r, 4, 3], c[r, 4, 4]
        w01 = w02 = w11 = w12 = w21 = w22 = w31 = w32 = w41 = w42 = 0.0  # w[n+1], w[n+2]
        for section in range(KERNEL_SECTIONS):
            for k in range(5):
                grad_c[r, section, k] = 0.0
        end = length
        while end > 0:
            start = max(end - block, 0)
            count = end - start
            for j in range(count):
                i = np.uint64(count - 1 - j)  # unsigned indices: no wrap-around checks
                n = np.uint64(start) + i
                w = grad[r, n] - (q41 * w41 + q42 * w42)
                w4b[i] = w
                g = p40 * w + (p41 * w41 + p42 * w42)
                w42 = w41
                w41 = w
                w = g - (q31 * w31 + q32 * w32)
                w3b[i] = w
                g = p30 * w + (p31 * w31 + p32 * w32)
                w32 = w31
                w31 = w
                w = g - (q21 * w21 + q22 * w22)
                w2b[i] = w
                g = p20 * w + (p21 * w21 + p22 * w22)
                w22 = w21
                w21 = w
                w = g - (q11 * w11 + q12 * w12)
                w1b[i] = w
                g = p10 * w + (p11 * w11 + p12 * w12)
                w12 = w11
                w11 = w
                w = g - (q01 * w01 + q02 * w02)
                w0b[i] = w
                grad_x[r, n] = p00 * w + (p01 * w01 + p02 * w02)
                w02 = w01
                w01 = w
            for section in range(KERNEL_SECTIONS):
                w_s = adjoint[section]
                # u[i + 2 - k] and y[i + 2 - k] are the section's input and output at sample
                # start + i - k (the kept signals start with _HISTORY zeros).
                u = stages[section, r, start : end + _HISTORY]
                y = stages[section + 1, r, start : end + _HISTORY]
                sb0 = 0.0
                sb1 = 0.0
                sb2 = 0.0
                sa1 = 0.0
                sa2 = 0.0
                for i in range(count):
                    wi = w_s[i]
                    sb0 += wi * u[i + 2]
                    sb1 += wi * u[i + 1]
                    sb2 += wi * u[i]
                    sa1 += wi * y[i + 1]
                    sa2 += wi * y[i]
                grad_c[r, section, 0] += sb0
                grad_c[r, section, 1] += sb1
                grad_c[r, section, 2] += sb2
                grad_c[r, section, 3] -= sa1
                grad_c[r, section, 4] -= sa2
            end = start


@functools.cache
def compiled_cascade() -> tuple[Callable, Callable]:
    """The cascade's forward loop and its block-wise adjoint, compiled on first use."""
    (forward_loop,) = compile_loops("eq:dsp", _cascade_forward)
    import numba

    return forward_loop, numba.njit(cache=True, fastmath=_ADJOINT_FASTMATH)(_cascade_adjoint)


class SectionsCascade(torch.autograd.Function):
    """Five biquads in series per row of ``(R, T)`` audio, coefficients ``(R, 5, 5)`` float64.

    ``c[r, s]`` is ``(b0, b1, b2, a1, a2)``; ``keep`` says whether to keep what
    the backward pass needs. The output is in ``x``'s dtype (float32 or
    float64; the recursion runs in float64), and so is ``x``'s gradient (no
    conversions); the coefficients' gradient is float64. The backward pass is
    :func:`_cascade_adjoint`, exact. ``eq:dsp`` and ``eq:tcn`` filter through it.
    """

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, c: torch.Tensor, keep: bool) -> torch.Tensor:
        """The compiled forward loop; with ``keep``, the signals between sections saved."""
        forward_loop, _ = compiled_cascade()
        rows, length = x.shape
        x_np = x.detach().contiguous().numpy()
        y = np.empty((rows, length), dtype=x_np.dtype)
        shape = (KERNEL_SECTIONS + 1, rows, _HISTORY + length) if keep else (0, 0, 0)
        stages = np.empty(shape)
        forward_loop(x_np, c.detach().contiguous().numpy(), y, stages)
        if keep:  # the signals between sections, freed with the graph like any saved tensor
            ctx.save_for_backward(c, torch.from_numpy(stages))
        return torch.from_numpy(y)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, None]:
        """The gradients of ``x`` and ``c`` by :func:`_cascade_adjoint`."""
        c, stages = ctx.saved_tensors
        _, adjoint_loop = compiled_cascade()
        grad_np = grad.detach().contiguous().numpy()  # the output's (so the input's) dtype
        grad_x = np.empty_like(grad_np)
        grad_c = np.empty(tuple(c.shape))
        adjoint_loop(grad_np, c.detach().contiguous().numpy(), stages.numpy(), grad_x, grad_c,
                     _ADJOINT_BLOCK)
        return torch.from_numpy(grad_x), torch.from_numpy(grad_c), None


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
        y = SectionsCascade.apply(y, coefficients[:, start:start + KERNEL_SECTIONS], keep)
    return y.reshape(n, channels, length).to(x.dtype)


def biquad_cascade(x: torch.Tensor, b: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """Filter ``(N, C, T)`` audio through ``S`` biquads in series, one set per row.

    ``b`` and ``a`` are ``(N, S, 3)``. Exact time-domain recursion from a zero
    state, differentiable in the audio and every coefficient. On a CPU the
    sections run together in one compiled loop (numba; direct form II
    transposed, the states in registers) whose backward pass is its exact
    adjoint (:class:`SectionsCascade`: per block of samples, the recursions
    backwards in time, then the coefficients' sums as vectorised loops; the
    same code as ``eq:tcn``'s); elsewhere they run one by one, the
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
