"""Choosing where a training segment starts, and telling a silent one from a useful one.

A segment is useful when the mix is audible and at least one stem is: a
silent target teaches the console nothing, and a segment whose every stem is
silent gives it nothing to mix.
"""

from __future__ import annotations

import numpy as np
import torch

#: Below this RMS level (dBFS) a signal counts as silent.
SILENCE_DB = -60.0


def rms_db(audio: torch.Tensor) -> torch.Tensor:
    """RMS level in dBFS over the last axis (``-inf``-safe: silence gives about -200 dB)."""
    samples = audio.detach().cpu().numpy().astype(np.float64)  # numpy: see reading.py
    power = np.mean(samples * samples, axis=-1)
    return torch.from_numpy((10.0 * np.log10(power + 1e-20)).astype(np.float32))


def is_silent(audio: torch.Tensor, threshold_db: float = SILENCE_DB) -> bool:
    """Whether every channel of ``(C, T)`` audio is quieter than ``threshold_db``."""
    return bool((rms_db(audio) < threshold_db).all())


def is_useful_segment(
    stems: torch.Tensor, mix: torch.Tensor, threshold_db: float = SILENCE_DB
) -> bool:
    """``stems (K, T)`` and ``mix (2, T)``: the mix is audible and so is at least one stem."""
    if is_silent(mix, threshold_db):
        return False
    return bool((rms_db(stems) >= threshold_db).any())


def random_start(rng: np.random.Generator, total_frames: int, segment_frames: int) -> int:
    """A uniformly random start such that the segment fits (0 when the song is shorter)."""
    room = total_frames - segment_frames
    return int(rng.integers(0, room + 1)) if room > 0 else 0
