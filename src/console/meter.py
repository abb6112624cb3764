"""Integrated loudness (ITU-R BS.1770) of audio fed block by block, for songs of any length.

The console measures loudness in two places with two whole-signal meters:
the master stage with pyloudnorm (:func:`console.data.loudness.loudness_lufs`)
and each track's input trim with torchaudio
(:func:`console.data.loudness.loudness_batch`). Both filter the whole signal
and then cut it into 400 ms gating blocks, which for a 30-minute song holds
several copies of it in memory (gigabytes). :class:`LoudnessMeter` gives the
same number from blocks of any size: the K-weighting filters carry their state
from block to block, and the energy of each gating block is the difference of
a running sum taken at the block's edges, whose positions are known from the
length of the audio. Memory is one block and a few numbers per 100 ms.

``convention`` picks which meter's block edges, gates and special cases are
reproduced; the numbers agree with the whole-signal meters to float rounding.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import pyloudnorm
import scipy.signal
import torch

from console.data.segments import SILENCE_DB

Convention = Literal["pyloudnorm", "torchaudio"]
#: Channel weights of BS.1770 (L, R, C, Ls, Rs).
CHANNEL_WEIGHTS = (1.0, 1.0, 1.0, 1.41, 1.41)
BLOCK_SECONDS = 0.4
ABSOLUTE_GATE = -70.0


def _torchaudio_filters(sample_rate: int) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """The shelf and high-pass biquads of ``torchaudio.functional.loudness``, in float64."""
    w0 = 2 * math.pi * 1500.0 / sample_rate
    alpha = math.sin(w0) / 2 / (1 / math.sqrt(2))
    big_a = math.exp(4.0 / 40 * math.log(10))
    t1 = 2 * math.sqrt(big_a) * alpha
    t2, t3 = (big_a - 1) * math.cos(w0), (big_a + 1) * math.cos(w0)
    shelf_b = [big_a * ((big_a + 1) + t2 + t1), -2 * big_a * ((big_a - 1) + t3),
               big_a * ((big_a + 1) + t2 - t1)]
    shelf_a = [(big_a + 1) - t2 + t1, 2 * ((big_a - 1) - t3), (big_a + 1) - t2 - t1]
    w0 = 2 * math.pi * 38.0 / sample_rate
    alpha = math.sin(w0) / 2.0 / 0.5
    high_b = [(1 + math.cos(w0)) / 2, -1 - math.cos(w0), (1 + math.cos(w0)) / 2]
    high_a = [1 + alpha, -2 * math.cos(w0), 1 - alpha]
    return [(np.array(shelf_b), np.array(shelf_a), 1.0), (np.array(high_b), np.array(high_a), 1.0)]


def _pyloudnorm_filters(sample_rate: int) -> list[tuple[np.ndarray, np.ndarray, float]]:
    meter = pyloudnorm.Meter(sample_rate)
    return [(np.asarray(f.b, float), np.asarray(f.a, float), float(f.passband_gain))
            for f in meter._filters.values()]


def _block_edges(
    frames: int, sample_rate: int, convention: Convention
) -> tuple[np.ndarray, np.ndarray, float]:
    """Start and end sample of every gating block, and the divisor of its energy."""
    if convention == "pyloudnorm":  # pyloudnorm.Meter.integrated_loudness, to the float op
        step = 1.0 - 0.75
        count = int(np.round((frames / sample_rate - BLOCK_SECONDS) / (BLOCK_SECONDS * step))) + 1
        j = np.arange(max(count, 0), dtype=np.float64)
        lower = (BLOCK_SECONDS * (j * step) * sample_rate).astype(np.int64)
        upper = (BLOCK_SECONDS * (j * step + 1) * sample_rate).astype(np.int64)
        return lower.clip(max=frames), upper.clip(max=frames), BLOCK_SECONDS * sample_rate
    gate = int(round(BLOCK_SECONDS * sample_rate))  # torchaudio.functional.loudness
    step = int(round(gate * (1 - 0.75)))
    count = (frames - gate) // step + 1 if frames >= gate else 0
    lower = np.arange(count, dtype=np.int64) * step
    return lower, lower + gate, float(gate)


class LoudnessMeter:
    """BS.1770 integrated loudness of ``(channels, frames)`` audio fed in blocks.

    ``frames`` is the total length, known before the first block (from a file's
    header); feeding more or fewer samples than that is an error.
    """

    def __init__(
        self, sample_rate: int, frames: int, channels: int = 1,
        convention: Convention = "pyloudnorm",
    ) -> None:
        if channels > len(CHANNEL_WEIGHTS):
            raise ValueError(f"BS.1770 weights at most {len(CHANNEL_WEIGHTS)} channels.")
        self.sample_rate = int(sample_rate)
        self.frames = int(frames)
        self.channels = channels
        self.convention = convention
        self._filters = (_pyloudnorm_filters if convention == "pyloudnorm"
                         else _torchaudio_filters)(self.sample_rate)
        self._state = [np.zeros((channels, max(len(a), len(b)) - 1))
                       for b, a, _ in self._filters]
        self._lower, self._upper, self._divisor = _block_edges(
            self.frames, self.sample_rate, convention)
        self._edges = np.unique(np.concatenate([self._lower, self._upper]))
        self._sums = np.zeros((channels, len(self._edges)))
        self._next_edge = 0
        self._running = np.zeros(channels)  # sum of the weighted squares fed so far
        self._raw = np.zeros(channels)  # sum of the plain squares: silence and short audio
        self._position = 0

    def feed(self, block: np.ndarray | torch.Tensor) -> None:
        """Add the next ``(channels, n)`` samples."""
        if isinstance(block, torch.Tensor):
            block = block.detach().cpu().numpy()
        data = np.asarray(block, dtype=np.float64).reshape(self.channels, -1)
        n = data.shape[1]
        if self._position + n > self.frames:
            raise ValueError(f"The meter was told of {self.frames} frames and fed more.")
        self._raw += np.einsum("ct,ct->c", data, data)
        for index, (b, a, gain) in enumerate(self._filters):
            data, self._state[index] = scipy.signal.lfilter(b, a, data, axis=1,
                                                            zi=self._state[index])
            if gain != 1.0:
                data = gain * data
        end = self._position + n
        stop = int(np.searchsorted(self._edges, end, side="right"))
        if stop > self._next_edge:
            cumulative = np.cumsum(data * data, axis=1) + self._running[:, None]
            wanted = self._edges[self._next_edge:stop] - self._position
            self._sums[:, self._next_edge:stop] = np.where(
                wanted > 0, cumulative[:, np.maximum(wanted - 1, 0)], self._running[:, None])
            self._next_edge = stop
            self._running = cumulative[:, -1] if n else self._running
        elif n:
            self._running = self._running + np.einsum("ct,ct->c", data, data)
        self._position = end

    def lufs(self) -> float:
        """The integrated loudness in LUFS; ``-inf`` for silence (as the whole meters say)."""
        if self._position != self.frames:
            raise ValueError(f"The meter was fed {self._position} of {self.frames} frames.")
        if self.convention == "pyloudnorm":
            return self._pyloudnorm_lufs()
        return self._torchaudio_lufs()

    def _energies(self) -> np.ndarray:
        """``(channels, blocks)`` mean square of each gating block."""
        lower = np.searchsorted(self._edges, self._lower)
        upper = np.searchsorted(self._edges, self._upper)
        return (self._sums[:, upper] - self._sums[:, lower]) / self._divisor

    def _gated(self, energy: np.ndarray, above_absolute: np.ndarray) -> float:
        weights = np.asarray(CHANNEL_WEIGHTS[: self.channels])[:, None]
        loudness = self._block_loudness(energy)
        if not above_absolute.any():
            return -math.inf
        relative = -0.691 + 10.0 * math.log10(
            float((weights[:, 0] * energy[:, above_absolute].mean(axis=1)).sum())) - 10.0
        kept = (loudness > relative) & (loudness > ABSOLUTE_GATE)
        if not kept.any():
            return -math.inf
        total = float((weights[:, 0] * energy[:, kept].mean(axis=1)).sum())
        return -0.691 + 10.0 * math.log10(total) if total > 0 else -math.inf

    def _block_loudness(self, energy: np.ndarray) -> np.ndarray:
        weights = np.asarray(CHANNEL_WEIGHTS[: self.channels])[:, None]
        with np.errstate(divide="ignore"):
            return -0.691 + 10.0 * np.log10((weights * energy).sum(axis=0))

    def _pyloudnorm_lufs(self) -> float:
        """As :func:`console.data.loudness.loudness_lufs` (silence and short audio too)."""
        power = self._raw / max(self.frames, 1)
        if float((10.0 * np.log10(power + 1e-20)).astype(np.float32).max()) < SILENCE_DB:
            return -math.inf
        if self.frames < int(BLOCK_SECONDS * self.sample_rate) + 1:
            mean = float(self._raw.sum()) / (self.channels * self.frames)
            return float(np.float32(10.0 * np.log10(mean + 1e-20))) - 0.691
        energy = self._energies()
        value = self._gated(energy, self._block_loudness(energy) >= ABSOLUTE_GATE)
        return value if math.isfinite(value) else -math.inf

    def _torchaudio_lufs(self) -> float:
        """As :func:`console.data.loudness.loudness_batch` of one row (short rows too)."""
        if self.frames < int(BLOCK_SECONDS * self.sample_rate) + 1:
            power = float(self._raw.sum()) / self.frames  # channels add, as in BS.1770
            return 10.0 * math.log10(power) - 0.691 if power > 0 else -math.inf
        energy = self._energies()
        value = self._gated(energy, self._block_loudness(energy) > ABSOLUTE_GATE)
        return value if math.isfinite(value) else -math.inf
