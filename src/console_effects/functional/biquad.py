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

import math

import torch
import torch.nn.functional as F
import torchaudio.functional as taf

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


def biquad_cascade(x: torch.Tensor, b: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """Filter ``(N, C, T)`` audio through ``S`` biquads in series, one set per row.

    ``b`` and ``a`` are ``(N, S, 3)`` with ``a[..., 0] == 1``. Exact time-domain
    recursion from a zero state, differentiable in the audio and every
    coefficient: the zeros as a sliding three-tap product, the poles by torchaudio's
    compiled IIR loop (whose backward pass is the same loop run backwards).
    It runs in float64: the recursion of a low band amplifies float32 rounding
    by the band's pole gain (up to ~1e5 at 20 Hz, 38 dB SNR), and on a CPU
    the float64 loop costs little more. See benchmarks/eq_filter_candidates.py.
    """
    if b.shape != a.shape or b.dim() != 3 or b.shape[-1] != 3 or b.shape[0] != x.shape[0]:
        raise ValueError(
            f"biquad coefficients must both be (N={x.shape[0]}, S, 3); got b "
            f"{tuple(b.shape)} and a {tuple(a.shape)}."
        )
    # (C, N, T): torchaudio's loop takes one filter per row of the middle axis.
    y = x.double().transpose(0, 1)
    b, a = b.double(), a.double()
    for section in range(b.shape[1]):
        zeros_only = _three_tap_fir(y, b[:, section])
        y = _all_pole(zeros_only.contiguous(), a[:, section].contiguous())
    return y.transpose(0, 1).to(x.dtype)


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
