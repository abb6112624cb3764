"""Reading only the samples a segment needs, at the dataset's sample rate."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from console.audio import resample
from console.errors import AudioInputError


def read_segment(
    path: Path, start: int, frames: int, file_rate: int, sample_rate: int, mono: bool = False
) -> torch.Tensor:
    """``(channels, frames)`` float32 from ``start`` (both counted at ``sample_rate``).

    Reads past the end of the file are filled with silence; ``mono`` averages
    the channels into one. A file at another rate is read around the segment
    and resampled. Raises :class:`AudioInputError` naming the file when its
    data cannot be decoded. The work is done in numpy: small torch reductions
    are slow when DataLoader workers compete for the CPU threads.
    """
    if file_rate == sample_rate:
        native_start, native_frames = start, frames
    else:
        native_start = math.floor(start * file_rate / sample_rate)
        native_frames = math.ceil(frames * file_rate / sample_rate) + 1
    try:
        data, _ = sf.read(
            str(path), start=native_start, frames=native_frames, dtype="float32", always_2d=True
        )
    except (sf.LibsndfileError, RuntimeError, OSError, ValueError) as exc:
        raise AudioInputError(
            f"Cannot decode {path} ({exc}); re-export it or remove its song."
        ) from exc
    if not np.isfinite(data).all():
        raise AudioInputError(f"{path} contains NaN or infinite samples; re-export it.")
    if mono:
        data = data.mean(axis=1, keepdims=True)
    if file_rate != sample_rate:
        data = resample(torch.from_numpy(np.ascontiguousarray(data.T)), file_rate, sample_rate)
        data = data.numpy().T
    out = np.zeros((data.shape[1], frames), dtype=np.float32)
    usable = min(frames, data.shape[0])
    out[:, :usable] = data[:usable].T
    return torch.from_numpy(out)
