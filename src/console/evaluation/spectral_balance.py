"""Spectral balance: the share of a mix's energy in each frequency band, and its error."""

from __future__ import annotations

from collections.abc import Sequence

import torch

#: Band edges in Hz: bass, low mids, mids, high mids, air.
BAND_EDGES_HZ = (20.0, 150.0, 500.0, 2000.0, 6000.0, 20000.0)
_FLOOR = 1e-10


def band_names(sample_rate: int, edges: Sequence[float] = BAND_EDGES_HZ) -> list[str]:
    """Column names of the bands below Nyquist, e.g. ``"150-500Hz"``."""
    return [f"{lo:g}-{hi:g}Hz" for lo, hi in _bands(sample_rate, edges)]


def _bands(sample_rate: int, edges: Sequence[float]) -> list[tuple[float, float]]:
    nyquist = sample_rate / 2
    return [(lo, min(hi, nyquist)) for lo, hi in zip(edges[:-1], edges[1:], strict=True)
            if lo < nyquist]


def band_balance_db(
    mix: torch.Tensor, sample_rate: int, edges: Sequence[float] = BAND_EDGES_HZ,
    n_fft: int = 4096,
) -> torch.Tensor:
    """Each band's share of the mid channel's energy in dB, ``(bands,)``.

    A share, not a level: the balance is the same at any playback volume.
    The mid channel ``(L+R)/2`` is what a mono listener hears of the tonality.
    """
    mid = mix.double().mean(dim=0)
    if mid.shape[-1] < n_fft:
        mid = torch.nn.functional.pad(mid, (0, n_fft - mid.shape[-1]))
    window = torch.hann_window(n_fft, dtype=mid.dtype)
    spec = torch.stft(mid, n_fft, n_fft // 4, window=window, center=False, return_complex=True)
    power = spec.abs().square().mean(dim=-1)
    freqs = torch.linspace(0.0, sample_rate / 2, power.shape[0], dtype=mid.dtype)
    energy = torch.stack([
        power[(freqs >= lo) & (freqs < hi)].sum() for lo, hi in _bands(sample_rate, edges)
    ])
    share = energy / energy.sum().clamp_min(_FLOOR)
    return 10.0 * torch.log10(share.clamp_min(_FLOOR))


def spectral_balance_error_db(
    mix: torch.Tensor, reference: torch.Tensor, sample_rate: int,
    edges: Sequence[float] = BAND_EDGES_HZ,
) -> dict[str, float]:
    """``|balance(mix) - balance(reference)|`` per band in dB, keyed by :func:`band_names`."""
    error = (band_balance_db(mix, sample_rate, edges)
             - band_balance_db(reference, sample_rate, edges)).abs()
    return dict(zip(band_names(sample_rate, edges), error.tolist(), strict=True))
