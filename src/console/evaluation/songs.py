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
    """One whole song: mono ``stems (K, T)`` and the reference ``mix (2, T)``, same ``T``.

    A song with stereo stems also has them as they are, ``tracks (K, 2, T)`` (the mono
    ones on both sides), and ``stereo (K,)`` says which; ``stems`` then holds every
    stem averaged to mono, for mixers that take mono tracks only.
    """

    song: Song
    stems: torch.Tensor
    mix: torch.Tensor
    sample_rate: int
    tracks: torch.Tensor | None = None
    stereo: torch.Tensor | None = None

    @property
    def as_recorded(self) -> torch.Tensor:
        """The stems as their files hold them: ``tracks`` when some are stereo, else ``stems``."""
        return self.tracks if self.tracks is not None else self.stems

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
    loaded = load_stems(None, sample_rate=sample_rate, files=song.stems)
    frames = mix.shape[-1]

    def fit(audio: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.pad(audio[..., :frames], (0, max(0, frames - audio.shape[-1])))

    if loaded.audio.dim() == 2:
        return LoadedSong(song, fit(loaded.audio), mix, sample_rate)
    tracks = fit(loaded.audio)
    return LoadedSong(song, tracks.mean(dim=1), mix, sample_rate, tracks, loaded.stereo)
