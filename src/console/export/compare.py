"""Two renders of one mix side by side: level per channel, what differs, and the alignment.

Used to check a session against ``console render`` (``console export --check``,
the tests, the documented measurements). The level difference is the RMS of each
channel in dB relative to the reference; the residual is the RMS of the sample-wise
difference relative to the reference's, which is far stricter (-40 dB means the
two agree to 1 %); the lag is where their cross-correlation peaks.
"""

from __future__ import annotations

import math

import attrs
import numpy as np


@attrs.frozen
class ChannelDifference:
    """One channel: level of the other render minus the reference's, and the residual."""

    level_db: float
    residual_db: float


@attrs.frozen
class RenderComparison:
    """How far apart two stereo renders are."""

    lag: int
    channels: tuple[ChannelDifference, ...]

    @property
    def worst_level_db(self) -> float:
        return max(abs(c.level_db) for c in self.channels)

    @property
    def worst_residual_db(self) -> float:
        return max(c.residual_db for c in self.channels)

    def describe(self) -> str:
        """One line: per-channel level and residual, and the alignment."""
        names = ("L", "R") if len(self.channels) == 2 else tuple(
            str(n + 1) for n in range(len(self.channels)))
        parts = [f"{name} {c.level_db:+.2f} dB (residual {c.residual_db:.1f} dB)"
                 for name, c in zip(names, self.channels, strict=True)]
        alignment = "sample-aligned" if self.lag == 0 else f"{self.lag:+d} samples late"
        return f"{', '.join(parts)}; {alignment}"


def _db(ratio: float) -> float:
    return 20.0 * math.log10(ratio) if ratio > 0 else -math.inf


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


def best_lag(reference: np.ndarray, other: np.ndarray, max_lag: int) -> int:
    """Samples by which ``other`` trails ``reference`` (negative: leads), within ``max_lag``."""
    a = np.asarray(reference, dtype=np.float64).sum(axis=0)
    b = np.asarray(other, dtype=np.float64).sum(axis=0)
    size = 1 << int(math.ceil(math.log2(a.size + b.size)))
    correlation = np.fft.irfft(np.fft.rfft(b, size) * np.conj(np.fft.rfft(a, size)), size)
    lags = np.concatenate([np.arange(0, max_lag + 1), np.arange(-max_lag, 0)])
    values = np.concatenate([correlation[: max_lag + 1], correlation[-max_lag:]])
    return int(lags[int(np.argmax(values))])


def compare_renders(
    reference: np.ndarray, other: np.ndarray, max_lag: int = 4096
) -> RenderComparison:
    """Compare ``(C, T)`` renders; the shorter length is compared, nothing is shifted."""
    reference = np.asarray(reference, dtype=np.float64)
    other = np.asarray(other, dtype=np.float64)
    if reference.shape[0] != other.shape[0]:
        raise ValueError(f"cannot compare {reference.shape[0]} channels with {other.shape[0]}")
    length = min(reference.shape[-1], other.shape[-1])
    reference, other = reference[:, :length], other[:, :length]
    channels = []
    for ref, oth in zip(reference, other, strict=True):
        base = _rms(ref)
        channels.append(ChannelDifference(
            level_db=_db(_rms(oth) / base) if base > 0 else 0.0,
            residual_db=_db(_rms(oth - ref) / base) if base > 0 else -math.inf,
        ))
    return RenderComparison(lag=best_lag(reference, other, min(max_lag, length - 1)),
                            channels=tuple(channels))
