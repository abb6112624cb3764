"""Artificial reverb kernels: noise shaped into band-wise decaying impulse responses.

A late reverberant tail is close to Gaussian noise whose energy decays
exponentially, faster at high frequencies (air and wall absorption). The
impulse response here is exactly that: fixed white noise, split into octave
bands, each band multiplied by its own exponential decay, summed. Two
independent noises (mid and side) give the stereo width. The input is
convolved with it by FFT at a length that holds the full linear convolution,
so nothing wraps around, and the result is cut to the input length.

Cost: the octave bands at or below :data:`BRIGHTNESS_PIVOT_HZ` always decay
alike, so they are summed once (:func:`merge_equal_decay_bands`) and the
response is built from five bands, not eight. On a CPU the decaying bands are
summed by a compiled loop that keeps each envelope as a running product (no
``(N, B, L)`` tensor of exponentials), with an exact compiled backward pass.
Each response stops at its own tail (:func:`tail_length`), so rows with short
decays are convolved with shorter FFTs (:func:`fft_length_groups`) and a row's
output does not depend on the other rows of the batch.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from console_effects.functional.compiled import compile_loops

#: Octave band centres; the bands' weights form a partition of unity over frequency.
BAND_CENTRES_HZ: tuple[float, ...] = (125.0, 250.0, 500.0, 1000.0, 2000.0, 4000.0, 8000.0, 16000.0)
#: Bands centred at or below this decay at the full RT60; higher ones decay faster.
BRIGHTNESS_PIVOT_HZ = 1000.0
#: The impulse response runs to this multiple of the RT60 (-90 dB), so no audible tail is lost.
TAIL_RT60_MULTIPLE = 1.5
_LN_1000 = 3.0 * math.log(10.0)  # energy falls by 60 dB: amplitude by a factor of 1000


def band_weights(frequencies_hz: torch.Tensor, centres_hz: tuple[float, ...]) -> torch.Tensor:
    """``(B, F)`` triangular weights on a log-frequency axis that sum to one at every frequency."""
    log_centres = torch.log2(torch.tensor(centres_hz, dtype=torch.float64))
    log_f = torch.log2(frequencies_hz.double().clamp(min=centres_hz[0], max=centres_hz[-1]))
    distance = (log_f[None, :] - log_centres[:, None]).abs()
    spacing = torch.diff(log_centres).min()
    weights = (1.0 - distance / spacing).clamp_min(0.0)
    return weights / weights.sum(dim=0, keepdim=True)


def band_noise(
    length: int,
    sample_rate: float,
    seed: int,
    centres_hz: tuple[float, ...] = BAND_CENTRES_HZ,
) -> torch.Tensor:
    """``(2, B, length)`` float64: mid and side white noise split into bands.

    The same seed always gives the same noise (a private generator, never the
    global one), and the bands of each noise sum back to it exactly.
    """
    generator = torch.Generator().manual_seed(seed)
    noise = torch.randn(2, length, generator=generator, dtype=torch.float64)
    spectrum = torch.fft.rfft(noise, dim=-1)
    frequencies = torch.fft.rfftfreq(length, d=1.0 / sample_rate, dtype=torch.float64)
    weights = band_weights(frequencies, centres_hz)
    return torch.fft.irfft(spectrum[:, None, :] * weights[None], n=length, dim=-1)


def decay_groups(centres_hz: tuple[float, ...] = BAND_CENTRES_HZ) -> tuple[tuple[int, ...], ...]:
    """Bands that always share an RT60, in order: those centred at or below the pivot are one.

    :func:`band_decay_times` gives every band at or below :data:`BRIGHTNESS_PIVOT_HZ` the
    full ``decay_s`` whatever the brightness, so their noises can be summed once.
    """
    low = tuple(i for i, f in enumerate(centres_hz) if f <= BRIGHTNESS_PIVOT_HZ)
    high = tuple((i,) for i, f in enumerate(centres_hz) if f > BRIGHTNESS_PIVOT_HZ)
    return ((low,) if low else ()) + high


def merge_equal_decay_bands(
    noise: torch.Tensor, groups: Sequence[Sequence[int]]
) -> torch.Tensor:
    """``(C, G, L)`` band noise with the bands of each group of ``groups`` summed."""
    return torch.stack([noise[:, list(group)].sum(dim=1) for group in groups], dim=1)


def band_cross_power(noise: torch.Tensor) -> torch.Tensor:
    """``(2, B, B)`` mean products of the bands of each noise, for the expected IR energy."""
    return torch.einsum("cbt,cdt->cbd", noise, noise) / noise.shape[-1]


def band_decay_times(
    decay_s: torch.Tensor, brightness: torch.Tensor, centres_hz: tuple[float, ...] = BAND_CENTRES_HZ
) -> torch.Tensor:
    """RT60 per band ``(N, B)``: the full ``decay_s`` up to the pivot, shorter above it.

    Above :data:`BRIGHTNESS_PIVOT_HZ` the RT60 falls as ``(f / pivot) ** -(1 - brightness)``:
    brightness 1 decays every band alike, brightness 0 makes an octave higher
    ring half as long, like a room with soft furnishings.
    """
    centres = torch.tensor(centres_hz, dtype=decay_s.dtype, device=decay_s.device)
    log_ratio = torch.log(centres.clamp_min(BRIGHTNESS_PIVOT_HZ) / BRIGHTNESS_PIVOT_HZ)
    return decay_s[:, None] * torch.exp(-(1.0 - brightness[:, None]) * log_ratio[None, :])


def log_decay_per_sample(rt60_s: torch.Tensor, sample_rate: float) -> torch.Tensor:
    """Natural log of the per-sample amplitude factor that gives a 60 dB fall in ``rt60_s``."""
    return -_LN_1000 / (rt60_s * sample_rate)


def tail_length(decay_s: float, sample_rate: float) -> int:
    """Samples an impulse response needs to reach -90 dB at an RT60 of ``decay_s``."""
    return max(1, math.ceil(TAIL_RT60_MULTIPLE * decay_s * sample_rate))


#: The running product of a decaying envelope is re-anchored on an exact exponential this often.
_ANCHOR_SAMPLES = 1024


def _decaying_sum_forward(
    noise: np.ndarray, log_decay: np.ndarray, lengths: np.ndarray, out: np.ndarray
) -> None:
    """``out[n, c, t] = sum_b exp(log_decay[n, b] t) noise[c, b, t]``; zero from ``lengths[n]``.

    Each envelope is a running product, re-anchored on an exact exponential every
    :data:`_ANCHOR_SAMPLES` samples (relative error below 1e-12 in float64).
    """
    rows, bands = log_decay.shape
    channels, length = out.shape[1], out.shape[2]
    envelope = np.empty(bands)
    ratio = np.empty(bands)
    for n in range(rows):
        for b in range(bands):
            ratio[b] = math.exp(log_decay[n, b])
        stop = min(lengths[n], length)
        for t in range(stop):
            if t % _ANCHOR_SAMPLES == 0:
                for b in range(bands):
                    envelope[b] = math.exp(log_decay[n, b] * t)
            for c in range(channels):
                total = 0.0
                for b in range(bands):
                    total += envelope[b] * noise[c, b, t]
                out[n, c, t] = total
            for b in range(bands):
                envelope[b] *= ratio[b]
        for c in range(channels):
            for t in range(stop, length):
                out[n, c, t] = 0.0


def _decaying_sum_backward(
    grad: np.ndarray, noise: np.ndarray, log_decay: np.ndarray, lengths: np.ndarray,
    grad_log_decay: np.ndarray,
) -> None:
    """``dL/dlog_decay[n, b] = sum_t t exp(log_decay[n, b] t) sum_c grad[n, c, t] noise[c, b, t]``.

    The envelope is the forward pass's running product, re-anchored as there.
    """
    rows, bands = log_decay.shape
    channels, length = grad.shape[1], grad.shape[2]
    envelope = np.empty(bands)
    ratio = np.empty(bands)
    total = np.empty(bands)
    for n in range(rows):
        for b in range(bands):
            ratio[b] = math.exp(log_decay[n, b])
            total[b] = 0.0
        for t in range(min(lengths[n], length)):
            if t % _ANCHOR_SAMPLES == 0:
                for b in range(bands):
                    envelope[b] = math.exp(log_decay[n, b] * t)
            for b in range(bands):
                projected = 0.0
                for c in range(channels):
                    projected += grad[n, c, t] * noise[c, b, t]
                total[b] += t * envelope[b] * projected
                envelope[b] *= ratio[b]
        for b in range(bands):
            grad_log_decay[n, b] = total[b]


@functools.cache
def compiled_decaying_sum() -> tuple[Callable, Callable]:
    """The band sum's forward and adjoint loops, compiled on first use."""
    return compile_loops("reverb:dsp", _decaying_sum_forward, _decaying_sum_backward)


class _CompiledDecayingSum(torch.autograd.Function):
    """Decaying band noise summed per row; gradients reach the decays (the noise is fixed)."""

    @staticmethod
    def forward(
        ctx: Any, noise: torch.Tensor, log_decay: torch.Tensor, lengths: torch.Tensor
    ) -> torch.Tensor:
        forward_loop, _ = compiled_decaying_sum()
        out = np.empty((log_decay.shape[0], noise.shape[0], noise.shape[-1]),
                       dtype=np.float64 if log_decay.dtype == torch.float64 else np.float32)
        # The noise may be a strided view (a prefix of a longer cached noise): numba reads it.
        forward_loop(noise.detach().numpy(), log_decay.detach().double().contiguous().numpy(),
                     lengths.contiguous().numpy(), out)
        ctx.save_for_backward(noise, log_decay, lengths)
        return torch.from_numpy(out)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[None, torch.Tensor, None]:
        noise, log_decay, lengths = ctx.saved_tensors
        _, backward_loop = compiled_decaying_sum()
        grad_log_decay = np.empty(tuple(log_decay.shape), dtype=np.float64)
        backward_loop(grad.detach().contiguous().numpy(), noise.detach().numpy(),
                      log_decay.detach().double().contiguous().numpy(),
                      lengths.contiguous().numpy(), grad_log_decay)
        return None, torch.from_numpy(grad_log_decay).to(log_decay.dtype), None


def decaying_band_sum(
    noise: torch.Tensor, log_decay: torch.Tensor, lengths: torch.Tensor | None = None
) -> torch.Tensor:
    """``(N, C, L)``: band noise ``(C, B, L)`` under per-row decays, summed over the bands.

    ``out[n, c, t] = sum_b exp(log_decay[n, b] * t) * noise[c, b, t]``, zero from
    ``lengths[n]`` on (all ``L`` samples when ``lengths`` is None). Differentiable
    in ``log_decay`` ``(N, B)``; the noise is a fixed signal and gets no gradient.
    On a CPU a compiled loop, elsewhere torch operations.
    """
    rows, length = log_decay.shape[0], noise.shape[-1]
    if lengths is None:
        lengths = torch.full((rows,), length, dtype=torch.int64)
    lengths = lengths.detach().to("cpu", torch.int64).clamp(0, length)
    if noise.device.type == "cpu" and log_decay.device.type == "cpu":
        if noise.dtype != log_decay.dtype:
            noise = noise.to(log_decay.dtype)
        return _CompiledDecayingSum.apply(noise.detach(), log_decay, lengths)
    return _torch_decaying_sum(noise, log_decay, lengths)


def _torch_decaying_sum(
    noise: torch.Tensor, log_decay: torch.Tensor, lengths: torch.Tensor
) -> torch.Tensor:
    """:func:`decaying_band_sum` with torch operations (any device): ``(N, B, L)`` envelopes."""
    steps = torch.arange(noise.shape[-1], dtype=log_decay.dtype, device=log_decay.device)
    envelopes = torch.exp(log_decay[:, :, None] * steps)  # (N, B, L)
    envelopes = envelopes * (steps < lengths.to(steps.device)[:, None, None])
    return torch.einsum("nbt,cbt->nct", envelopes, noise.detach().to(envelopes))


def stereo_impulse_response(
    noise: torch.Tensor,
    cross_power: torch.Tensor,
    rt60_s: torch.Tensor,
    width: torch.Tensor,
    sample_rate: float,
    lengths: torch.Tensor | None = None,
    gain: torch.Tensor | None = None,
) -> torch.Tensor:
    """``(N, 2, L)`` left/right responses from band noise ``(2, B, L)`` and band RT60s ``(N, B)``.

    Mid and side are each scaled to unit expected energy (computed in closed
    form from the band cross-power and the geometric sum of the decays, so the
    level does not depend on how much of the tail is kept); then
    ``L, R = (mid +- width * side) / sqrt(1 + width**2)``: width 0 gives two
    identical channels, width 1 two uncorrelated ones, each of unit energy.
    Row ``n`` is zero from ``lengths[n]`` on, if given (see :func:`tail_length`),
    and is scaled by ``gain[n]``, if given. The scalings and the mid/side
    matrix are folded into one ``2 x 2`` matrix per row: one pass over the samples.
    """
    log_decay = log_decay_per_sample(rt60_s, sample_rate)  # (N, B)
    mid_side = decaying_band_sum(noise, log_decay, lengths)
    pair_sum = -torch.expm1(log_decay[:, :, None] + log_decay[:, None, :])  # 1 - r_b r_d
    energy = torch.einsum("cbd,nbd->nc", cross_power.to(mid_side), 1.0 / pair_sum)
    scale = torch.rsqrt(energy) * torch.rsqrt(1.0 + width.square())[:, None]  # (N, 2)
    if gain is not None:
        scale = scale * gain[:, None]
    mid, side = scale[:, 0], scale[:, 1] * width
    matrix = torch.stack([torch.stack([mid, side], -1), torch.stack([mid, -side], -1)], 1)
    return torch.bmm(matrix.to(mid_side.dtype), mid_side)


def fft_convolve(
    x: torch.Tensor, ir: torch.Tensor, delay_samples: torch.Tensor, length: int
) -> torch.Tensor:
    """The first ``length`` samples of ``x`` ``(N, C, T)`` convolved with ``ir`` ``(N, C', L)``.

    ``C`` and ``C'`` broadcast (a mono input feeds both channels of a stereo
    response). The delay ``(N,)`` may be fractional: it is a phase ramp in the
    frequency domain, so it is differentiable. The FFT is long enough for the
    whole convolution plus the delay, so the tail never wraps onto the start.
    The backward pass is written out (:class:`_FFTConvolution`): real FFTs only,
    five per row for a mono input and a stereo response, where autograd through
    ``rfft`` would take full complex ones.
    """
    max_delay = math.ceil(float(delay_samples.detach().max())) if delay_samples.numel() else 0
    n_fft = fast_fft_length(x.shape[-1] + ir.shape[-1] + max_delay + 1)
    return _FFTConvolution.apply(x, ir, delay_samples, length, n_fft)


def _hermitian_weights(bins: int, n_fft: int, dtype: torch.dtype, device: Any) -> torch.Tensor:
    """How often each ``rfft`` bin counts in the full spectrum: 1 for DC (and Nyquist), else 2."""
    weights = torch.full((bins,), 2.0, dtype=dtype, device=device)
    weights[0] = 1.0
    if n_fft % 2 == 0:
        weights[-1] = 1.0
    return weights


def _sum_to(t: torch.Tensor, channels: int) -> torch.Tensor:
    """Undo broadcasting over the channel axis: ``(N, C, ...)`` summed to ``channels``."""
    return t.sum(dim=1, keepdim=True) if channels == 1 and t.shape[1] != 1 else t


class _FFTConvolution(torch.autograd.Function):
    """``irfft(rfft(x) * ramp(delay) * rfft(ir))[:length]`` with an adjoint in real FFTs.

    For ``y = irfft(Z)`` and an output gradient ``g`` with spectrum ``G``,
    ``<g, y> = (1/n) sum_k w_k Re(conj(G_k) Z_k)`` (``w`` the Hermitian weights),
    so the input's gradient is ``irfft(G conj(ramp H))``, the response's
    ``irfft(G conj(ramp X))`` and the delay's
    ``(1/n) sum_k w_k (2 pi k / n) Im(conj(G_k) ramp_k X_k H_k)``.
    """

    @staticmethod
    def forward(
        ctx: Any, x: torch.Tensor, ir: torch.Tensor, delay: torch.Tensor, length: int,
        n_fft: int,
    ) -> torch.Tensor:
        x_spectrum = torch.fft.rfft(x, n=n_fft)
        ramp = delay_ramp(delay, n_fft, x_spectrum.shape[-1]).to(x_spectrum.dtype)
        shifted = x_spectrum * ramp[:, None, :]
        ir_spectrum = torch.fft.rfft(ir, n=n_fft)
        ctx.save_for_backward(shifted, ir_spectrum, ramp)
        ctx.shape = (x.shape[1], x.shape[-1], ir.shape[1], ir.shape[-1], n_fft)
        return torch.fft.irfft(shifted * ir_spectrum, n=n_fft)[..., :length]

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(
        ctx: Any, grad: torch.Tensor
    ) -> tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None, None, None]:
        shifted, ir_spectrum, ramp = ctx.saved_tensors
        x_channels, x_length, ir_channels, ir_length, n_fft = ctx.shape
        need_x, need_ir, need_delay = ctx.needs_input_grad[:3]
        spectrum = torch.fft.rfft(grad, n=n_fft)  # (N, C_y, F)
        grad_x = grad_ir = grad_delay = None
        if need_x or need_delay:
            # G conj(H), summed to the input's channels: the input's gradient before the
            # ramp, and (conjugated, times the shifted input) the delay's.
            product = _sum_to(spectrum * ir_spectrum.conj(), shifted.shape[1])
            if need_x:
                grad_x = torch.fft.irfft(
                    _sum_to(product * ramp.conj()[:, None, :], x_channels), n=n_fft
                )[..., :x_length]
            if need_delay:
                bins = spectrum.shape[-1]
                real = grad.dtype
                omega = torch.arange(bins, dtype=real, device=grad.device) * (
                    2.0 * math.pi / n_fft)
                weights = _hermitian_weights(bins, n_fft, real, grad.device) * omega / n_fft
                cross = (shifted * product.conj()).imag.sum(dim=1)  # (N, F)
                grad_delay = cross @ weights
        if need_ir:
            product = _sum_to(spectrum * shifted.conj(), ir_channels)
            grad_ir = torch.fft.irfft(product, n=n_fft)[..., :ir_length]
        return grad_x, grad_ir, grad_delay, None, None


#: Bins per block of :func:`delay_ramp`'s factored phase ramp.
_RAMP_BLOCK = 512


def delay_ramp(delay_samples: torch.Tensor, n_fft: int, bins: int) -> torch.Tensor:
    """``exp(-2 pi i k d / n_fft)`` for bins ``k < bins``: ``(N, bins)`` complex, delays ``(N,)``.

    A geometric sequence in ``k``, built as the outer product of a coarse and a
    fine ramp (``k = 512 a + b``) whose phases are computed in float64: one
    complex product per bin instead of a sine and a cosine of phases up to
    ``pi * d`` (thousands of radians, where float32 phases are off by 1e-3 rad
    and vectorised sines are slow). Differentiable in the delays.
    """
    block = min(_RAMP_BLOCK, bins)
    blocks = -(-bins // block)
    delay = delay_samples.to(torch.float64)[:, None]
    step = -2.0 * math.pi / n_fft
    fine = torch.arange(block, dtype=torch.float64, device=delay.device)
    coarse = torch.arange(blocks, dtype=torch.float64, device=delay.device) * block
    fine_ramp, coarse_ramp = (
        torch.polar(torch.ones_like(angle), angle)
        for angle in (step * delay * fine, step * delay * coarse)
    )
    dtype = torch.complex128 if delay_samples.dtype == torch.float64 else torch.complex64
    ramp = coarse_ramp.to(dtype)[:, :, None] * fine_ramp.to(dtype)[:, None, :]
    return ramp.reshape(delay.shape[0], blocks * block)[:, :bins]


#: What one FFT call costs beyond its rows, in rows: torch's CPU FFT sets up its plan on
#: every call (about 12 ns per point at 270000 points on one thread, against about 3 ns
#: per point and row), and a group of rows makes three calls for five rows' transforms.
FFT_CALL_OVERHEAD_ROWS = 3.0


def fft_length_groups(
    required: Sequence[int], steps_per_octave: int = 8,
    call_overhead_rows: float | None = None,
) -> list[tuple[int, list[int]]]:
    """Rows grouped by FFT length: ``[(n_fft, rows), ...]`` for the rows' ``required`` lengths.

    The lengths form a grid of ``steps_per_octave`` steps per octave above the
    shortest requirement (each a :func:`fast_fft_length`); each row takes the
    first that holds it. Neighbouring lengths are then merged where that is
    cheaper, counting a group of ``k`` rows at length ``n`` as
    ``n * (call_overhead_rows + k)``: a few rows are not worth calls of their own
    (default :data:`FFT_CALL_OVERHEAD_ROWS`).
    """
    if not required:
        return []
    if call_overhead_rows is None:
        call_overhead_rows = FFT_CALL_OVERHEAD_ROWS
    base, top = min(required), max(required)
    grid = [fast_fft_length(base)]
    while grid[-1] < top:
        step = len(grid)
        grid.append(fast_fft_length(math.ceil(base * 2.0 ** (step / steps_per_octave))))
    by_size: dict[int, list[int]] = {}
    for row, need in enumerate(required):
        by_size.setdefault(next(size for size in grid if size >= need), []).append(row)
    sizes = sorted(by_size)
    # best[j]: cheapest grouping of the first j sizes; a group takes its largest size.
    best: list[tuple[float, list[tuple[int, list[int]]]]] = [(0.0, [])]
    for j in range(1, len(sizes) + 1):
        options = []
        for i in range(j):
            rows = [r for size in sizes[i:j] for r in by_size[size]]
            cost = best[i][0] + sizes[j - 1] * (call_overhead_rows + len(rows))
            options.append((cost, [*best[i][1], (sizes[j - 1], sorted(rows))]))
        best.append(min(options, key=lambda option: option[0]))
    return best[-1][1]


def fast_fft_length(minimum: int) -> int:
    """Smallest even ``2**a * 3**b * 5**c`` (``a >= 1``) at least ``minimum``.

    Real FFTs of these sizes are fast; odd ones are not (an odd ``5**6``
    took 2.7 times as long per sample as its even neighbours on this CPU).
    """
    minimum = max(int(minimum), 2)
    best = 1 << (minimum - 1).bit_length()
    power5 = 1
    while power5 < best:
        odd = power5
        while odd < best:
            candidate = 2 * odd
            while candidate < minimum:
                candidate *= 2
            best = min(best, candidate)
            odd *= 3
        power5 *= 5
    return best


def energy_decay_db(ir: torch.Tensor) -> torch.Tensor:
    """Schroeder backward-integrated energy ``(..., L)`` in dB relative to the total."""
    energy = ir.square().flip(-1).cumsum(-1).flip(-1)
    return 10.0 * torch.log10(energy.clamp_min(1e-30) / energy[..., :1].clamp_min(1e-30))


def estimate_rt60(
    ir: torch.Tensor, sample_rate: float, top_db: float = -5.0, bottom_db: float = -25.0
) -> torch.Tensor:
    """RT60 in seconds ``(...)`` from the least-squares slope of the energy decay (T20)."""
    decay = energy_decay_db(ir)
    times = torch.arange(ir.shape[-1], dtype=decay.dtype, device=decay.device) / sample_rate
    weight = ((decay <= top_db) & (decay >= bottom_db)).to(decay.dtype)
    count = weight.sum(-1, keepdim=True)
    centred_t = times - (weight * times).sum(-1, keepdim=True) / count
    centred_d = decay - (weight * decay).sum(-1, keepdim=True) / count
    slope = (weight * centred_t * centred_d).sum(-1) / (weight * centred_t.square()).sum(-1)
    return -60.0 / slope
