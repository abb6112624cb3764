"""Reading whole songs for evaluation: every stem and the reference, at one sample rate."""

from __future__ import annotations

from collections.abc import Sequence

import attrs
import torch

from console.audio import load_stems, read_audio, resample
from console.data.checks import check_songs
from console.data.song import Song


@attrs.frozen
class LoadedSong:
    """One whole song: mono ``stems (K, T)`` and the reference ``mix (2, T)``, same ``T``."""

    song: Song
    stems: torch.Tensor
    mix: torch.Tensor
    sample_rate: int

    @property
    def name(self) -> str:
        return self.song.name


def usable_songs(songs: Sequence[Song], sample_rate: int) -> list[Song]:
    """The songs whose headers pass the training checks (others are reported and skipped)."""
    return [checked.song for checked in check_songs(songs, sample_rate, resample=True)]


def load_song(song: Song, sample_rate: int) -> LoadedSong:
    """Read a whole song; stems are cut or padded to the reference mix's length.

    Whole songs, not segments: a system is judged on every second it mixes.
    """
    mix, rate = read_audio(song.mix)
    mix = resample(mix, rate, sample_rate)
    stems = load_stems(None, sample_rate=sample_rate, files=song.stems, stereo=False).audio
    frames = mix.shape[-1]
    stems = torch.nn.functional.pad(stems[:, :frames], (0, max(0, frames - stems.shape[-1])))
    return LoadedSong(song, stems, mix, sample_rate)
