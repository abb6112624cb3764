"""Loudness normalisation of stems and mixes (ITU-R BS.1770 via pyloudnorm).

Normalising the stems removes the recording levels the console would
otherwise have to learn; normalising the mix gives the loss one scale.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pyloudnorm
import torch
import torchaudio

from console.data.segments import SILENCE_DB, rms_db
from console.stereo import stereo_rows

# pyloudnorm gates 400 ms blocks: shorter audio falls back to an RMS estimate.
_BLOCK_SECONDS = 0.4


def loudness_lufs(audio: torch.Tensor, sample_rate: int) -> float:
    """Integrated loudness of ``(C, T)`` audio in LUFS; ``-inf`` for silence."""
    if float(rms_db(audio).max()) < SILENCE_DB:
        return -math.inf
    if audio.shape[-1] < int(_BLOCK_SECONDS * sample_rate) + 1:
        return float(rms_db(audio.reshape(1, -1))[0]) - 0.691
    meter = pyloudnorm.Meter(sample_rate)
    data = audio.detach().double().cpu().numpy().T
    with np.errstate(divide="ignore"):
        value = float(meter.integrated_loudness(data))
    if not math.isfinite(value):  # gated out entirely: treat as silence
        return -math.inf
    return value


def normalise_loudness(audio: torch.Tensor, sample_rate: int, target_lufs: float) -> torch.Tensor:
    """Scale ``(C, T)`` audio to ``target_lufs``; silence is returned unchanged."""
    current = loudness_lufs(audio, sample_rate)
    if not math.isfinite(current):
        return audio
    return audio * float(10.0 ** ((target_lufs - current) / 20.0))


def normalise_tracks(
    tracks: torch.Tensor, sample_rate: int, target_lufs: float,
    stereo: Sequence[bool] | None = None,
) -> torch.Tensor:
    """Normalise each track on its own: mono ``(K, T)``, or ``(K, 2, T)`` where ``stereo``
    marks the stereo tracks (measured on both channels; the others, on both sides, once;
    by default the tracks whose channels differ)."""
    if tracks.dim() == 2:
        return torch.stack(
            [normalise_loudness(t[None], sample_rate, target_lufs)[0] for t in tracks]
        )
    wide = list(stereo) if stereo is not None else stereo_rows(tracks).tolist()
    return torch.stack([
        normalise_loudness(track, sample_rate, target_lufs) if is_stereo
        else normalise_loudness(track[:1], sample_rate, target_lufs).expand(2, -1)
        for track, is_stereo in zip(tracks, wide, strict=True)
    ])


def loudness_batch(rows: torch.Tensor, sample_rate: int) -> torch.Tensor:
    """Integrated loudness of each row of ``(M, T)`` (mono) or ``(M, C, T)`` in LUFS, batched.

    The same BS.1770 measure as :func:`loudness_lufs` (torchaudio's), fast enough to run
    on every training batch; the channels of a ``(M, C, T)`` row add their energies as
    BS.1770 does. Rows shorter than one 400 ms gating block fall back to an RMS
    estimate, and silent rows give ``-inf``.
    """
    rows = rows.detach().float()
    if rows.dim() == 2:
        rows = rows[:, None, :]
    if rows.shape[-1] < int(_BLOCK_SECONDS * sample_rate) + 1:
        power = rows.pow(2).mean(-1).sum(-1)
        return torch.where(power > 0, 10.0 * torch.log10(power) - 0.691,
                           torch.full_like(power, -math.inf))
    # torchaudio's K-weighting filters clamp to [-1, 1], so hot stems would read too quiet:
    # measure each row at a -20 dBFS peak and add the scale back (loudness is scale-equivariant).
    peak = rows.abs().amax((-2, -1)).clamp_min(1e-12)
    lufs = torchaudio.functional.loudness(rows * (0.1 / peak)[:, None, None], int(sample_rate))
    lufs = lufs + 20.0 * torch.log10(peak / 0.1)
    return torch.where(torch.isfinite(lufs), lufs, torch.full_like(lufs, -math.inf))


def track_loudness(
    rows: torch.Tensor, sample_rate: int, stereo: torch.Tensor | None = None
) -> torch.Tensor:
    """:func:`loudness_batch` of tracks: mono ``(M, T)``, or ``(M, 2, T)`` with ``stereo`` (M,).

    A stereo track is measured on both channels, as BS.1770 measures a stereo signal;
    the other rows are mono tracks on both sides, measured once (their mean).
    """
    if rows.dim() == 2:
        return loudness_batch(rows, sample_rate)
    mono = loudness_batch(rows.mean(dim=1), sample_rate)
    if stereo is None or not bool(stereo.any()):
        return mono
    return torch.where(stereo.to(mono.device), loudness_batch(rows, sample_rate), mono)
