"""Artificial reverb kernels: noise shaped into band-wise decaying impulse responses.

A late reverberant tail is close to Gaussian noise whose energy decays
exponentially, faster at high frequencies (air and wall absorption). The
impulse response here is exactly that: fixed white noise, split into octave
bands, each band multiplied by its own exponential decay, summed. Two
independent noises (mid and side) give the stereo width. The input is
convolved with it by FFT at a length that holds the full linear convolution,
so nothing wraps around, and the result is cut to the input length.
"""

from __future__ import annotations

import math

import torch

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


def stereo_impulse_response(
    noise: torch.Tensor,
    cross_power: torch.Tensor,
    rt60_s: torch.Tensor,
    width: torch.Tensor,
    sample_rate: float,
) -> torch.Tensor:
    """``(N, 2, L)`` left/right responses from band noise ``(2, B, L)`` and band RT60s ``(N, B)``.

    Mid and side are each scaled to unit expected energy (computed in closed
    form from the band cross-power and the geometric sum of the decays, so the
    level does not depend on how much of the tail is kept); then
    ``L, R = (mid +- width * side) / sqrt(1 + width**2)``: width 0 gives two
    identical channels, width 1 two uncorrelated ones, each of unit energy.
    """
    length = noise.shape[-1]
    log_decay = log_decay_per_sample(rt60_s, sample_rate)  # (N, B)
    steps = torch.arange(length, dtype=rt60_s.dtype, device=rt60_s.device)
    envelopes = torch.exp(log_decay[:, :, None] * steps)  # (N, B, L)
    mid_side = torch.einsum("nbt,cbt->nct", envelopes, noise.to(envelopes))
    pair_sum = -torch.expm1(log_decay[:, :, None] + log_decay[:, None, :])  # 1 - r_b r_d
    energy = torch.einsum("cbd,nbd->nc", cross_power.to(envelopes), 1.0 / pair_sum)
    mid_side = mid_side * torch.rsqrt(energy)[:, :, None]
    mid, side = mid_side[:, :1], mid_side[:, 1:]
    width = width[:, None, None]
    return torch.cat([mid + width * side, mid - width * side], dim=1) / torch.sqrt(
        1.0 + width.square()
    )


def fft_convolve(
    x: torch.Tensor, ir: torch.Tensor, delay_samples: torch.Tensor, length: int
) -> torch.Tensor:
    """The first ``length`` samples of ``x`` ``(N, C, T)`` convolved with ``ir`` ``(N, C', L)``.

    ``C`` and ``C'`` broadcast (a mono input feeds both channels of a stereo
    response). The delay ``(N,)`` may be fractional: it is a phase ramp in the
    frequency domain, so it is differentiable. The FFT is long enough for the
    whole convolution plus the delay, so the tail never wraps onto the start.
    """
    max_delay = math.ceil(float(delay_samples.detach().max())) if delay_samples.numel() else 0
    n_fft = fast_fft_length(x.shape[-1] + ir.shape[-1] + max_delay + 1)
    x_spectrum = torch.fft.rfft(x, n=n_fft)
    bins = torch.arange(x_spectrum.shape[-1], dtype=x.dtype, device=x.device)
    angle = (-2.0 * math.pi / n_fft) * delay_samples[:, None, None] * bins
    x_spectrum = x_spectrum * torch.complex(torch.cos(angle), torch.sin(angle))
    return torch.fft.irfft(x_spectrum * torch.fft.rfft(ir, n=n_fft), n=n_fft)[..., :length]


def fast_fft_length(minimum: int) -> int:
    """Smallest ``2**a * 3**b * 5**c`` at least ``minimum``: FFTs of these sizes are fast."""
    minimum = max(int(minimum), 1)
    best = 1 << (minimum - 1).bit_length()
    power5 = 1
    while power5 < best:
        odd = power5
        while odd < best:
            candidate = odd
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
