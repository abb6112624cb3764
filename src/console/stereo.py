"""Stereo stems: deciding what a file is (mono or stereo), and what the encoder hears of it.

A stem keeps its channel count through the console: a mono file is a mono track,
a stereo file a stereo track. Two cases are not what they claim, and are said out
loud instead of being mixed silently wrong:

* a "stereo" file whose two channels are identical is a mono recording saved
  twice; it is mixed as a mono track (panned, not balanced);
* a file whose channels are largely out of phase (``L ~ -R``) is kept as stereo,
  so nothing cancels, but flagged: it would vanish in any mono down-mix.

A file of more than two channels has no one right down-mix: ``console mix`` refuses
it in one line (split surround stems into mono or stereo stems first); the library
(:func:`console.audio.load_stems`, the streaming mix, training and evaluation)
averages it to a mono track and says so, as it did before stereo tracks.
"""

from __future__ import annotations

import math

import attrs
import numpy as np
import torch

from console.errors import AudioInputError

#: A side (L - R) this far below the channels' energy is rounding: the file is mono.
IDENTICAL_BELOW_DB = -90.0
#: A channel correlation at or below this is flagged as out of phase.
OUT_OF_PHASE_CORRELATION = -0.5


def check_channel_count(name: str, channels: int) -> None:
    """Refuse files of more than two channels in one line that says what to do."""
    if channels > 2:
        raise AudioInputError(
            f"{name} has {channels} channels; console mixes mono and stereo stems: split it "
            f"into mono or stereo files (e.g. `sox {name} front.wav remix 1 2`) and mix those."
        )


@attrs.frozen
class StereoCheck:
    """What one stem is, from its channel statistics."""

    name: str
    #: Channels of the file.
    file_channels: int
    #: Channels of the track it becomes: 2 only for a file with two different channels.
    channels: int
    #: Correlation of the two channels (NaN for silence, and for a file not read as two).
    correlation: float

    @property
    def out_of_phase(self) -> bool:
        return self.channels == 2 and self.correlation <= OUT_OF_PHASE_CORRELATION

    def notes(self) -> list[str]:
        """What a user should hear about this stem, in the words the CLI prints (nothing of a
        silent one's channels: its silence is reported elsewhere)."""
        if self.file_channels > 2:
            return [f"{self.name}: {self.file_channels} channels averaged to mono (split it into "
                    f"mono or stereo stems to keep its image)"]
        if self.file_channels == 2 and self.channels == 1 and not math.isnan(self.correlation):
            return [f"{self.name}: its two channels are identical; mixed as a mono track"]
        if self.out_of_phase:
            return [
                f"{self.name}: its channels are out of phase (correlation "
                f"{self.correlation:+.2f}); kept as stereo so nothing cancels, but it would "
                f"vanish in a mono down-mix: check its polarity"
            ]
        return []


class ChannelStats:
    """Sums over a stem fed in ``(C, n)`` blocks, enough to say whether it is really stereo."""

    def __init__(self, name: str, channels: int) -> None:
        self.name = name
        self.channels = channels
        self._left = self._right = self._cross = self._side = 0.0

    def feed(self, block: torch.Tensor | np.ndarray) -> None:
        if self.channels != 2:
            return
        data = np.asarray(block, dtype=np.float64).reshape(2, -1)
        left, right = data
        self._left += float(left @ left)
        self._right += float(right @ right)
        self._cross += float(left @ right)
        side = left - right
        self._side += float(side @ side)

    def check(self) -> StereoCheck:
        if self.channels != 2:  # a file of more channels is averaged (see the module)
            return StereoCheck(self.name, self.channels, 1, math.nan)
        energy = self._left + self._right
        identical = self._side <= energy * 10.0 ** (IDENTICAL_BELOW_DB / 10.0)
        scale = math.sqrt(self._left * self._right)
        correlation = self._cross / scale if scale > 0 else math.nan
        return StereoCheck(self.name, 2, 1 if identical else 2, correlation)


def check_stereo(name: str, audio: torch.Tensor) -> StereoCheck:
    """:class:`StereoCheck` of a whole ``(C, T)`` stem held in memory."""
    stats = ChannelStats(name, audio.shape[0])
    stats.feed(audio.detach().cpu().numpy())
    return stats.check()


def as_channels(audio: torch.Tensor, channels: int) -> torch.Tensor:
    """``(C, T)`` audio as the track's ``channels``: the mean for mono, both sides for stereo.

    A mono file asked for as stereo plays the same on both sides.
    """
    if channels == 1:
        return audio.mean(dim=0, keepdim=True) if audio.shape[0] > 1 else audio
    return audio.expand(2, -1) if audio.shape[0] == 1 else audio


def stack_tracks(tracks: list[torch.Tensor], channels: list[int],
                 frames: int | None = None) -> torch.Tensor:
    """``(C, T)`` tracks as one tensor: ``(K, T)`` when all are mono, else ``(K, 2, T)``.

    Each becomes its ``channels`` (:func:`as_channels`), a mono track then sits on
    both sides of a stereo batch; shorter tracks are padded with silence to
    ``frames`` (default: the longest).
    """
    frames = frames if frames is not None else max(t.shape[-1] for t in tracks)
    wide = 2 if 2 in channels else 1
    stacked = torch.stack([
        torch.nn.functional.pad(as_channels(as_channels(t, c), wide), (0, frames - t.shape[-1]))
        for t, c in zip(tracks, channels, strict=True)
    ])
    return stacked[:, 0] if wide == 1 else stacked


def encoder_view(rows: torch.Tensor) -> torch.Tensor:
    """What the encoder hears of stereo rows ``(M, 2, T)``: ``(M, T)``.

    The mid ``(L + R) / 2``, which is the track for any stem with a centre; for a
    track whose side ``(L - R) / 2`` carries more energy (out-of-phase content),
    the side, so the encoder hears the instrument rather than what is left of it.
    """
    mid = rows.mean(dim=1)
    side = (rows[:, 0] - rows[:, 1]) / 2
    louder_side = side.pow(2).sum(-1) > mid.pow(2).sum(-1)
    return torch.where(louder_side[:, None], side, mid)


def stereo_rows(rows: torch.Tensor) -> torch.Tensor:
    """``(M,)`` bool: which of ``(M, 2, T)`` rows have two different channels."""
    return (rows[:, 0] != rows[:, 1]).any(dim=-1)
