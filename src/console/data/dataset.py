"""Random, silence-aware segments of any list of songs, as a map-style torch dataset.

Every random choice comes from a generator seeded with ``(seed, epoch,
index)``, so an example depends only on those three numbers: the same seed
gives the same batches whatever the number of DataLoader workers, and
:meth:`MultitrackDataset.set_epoch` draws new segments for the next epoch.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch.utils.data import DataLoader

from console.audio import read_audio
from console.data.checks import CheckedSong, check_songs
from console.data.collate import Example, collate_examples
from console.data.loudness import normalise_loudness, normalise_tracks
from console.data.problems import report
from console.data.reading import read_segment
from console.data.reference_decisions import reference_settings
from console.data.segments import SILENCE_DB, is_useful_segment, random_start
from console.data.song import Song
from console.errors import AudioInputError
from console.stereo import check_stereo

if TYPE_CHECKING:  # console.mix_params imports this package through the master stage
    from console.mix_params import ParamSlot


class MultitrackDataset(torch.utils.data.Dataset):
    """Segments of ``songs``: mono stems ``(K, T)`` and their stereo mix ``(2, T)``.

    Songs whose headers show a problem are reported and left out when the
    dataset is built; a file that fails while reading is reported, its song
    is dropped for the rest of the epoch in that worker, and the next song
    is used instead, so an epoch never stops half-way. Multichannel stems are
    averaged to mono, unless ``stereo``: then a stereo stem (two channels that
    differ anywhere in the file, as ``console mix`` decides) is a stereo track,
    and a song with one gives ``stems (K, 2, T)`` with its mono tracks on both
    sides (files of more channels are still averaged).

    ``examples_per_epoch`` defaults to one example per song; example ``i``
    comes from song ``i % len(songs)`` (so shuffle with the DataLoader).
    ``stem_lufs`` / ``mix_lufs`` normalise each stem / the mix to a loudness.
    ``targets`` (a console's parameter layout) adds the reference mix's settings
    in those columns where the song folder records them (see
    :mod:`console.data.reference_decisions`).
    """

    def __init__(
        self,
        songs: Sequence[Song],
        sample_rate: int = 44100,
        segment_seconds: float = 5.0,
        examples_per_epoch: int | None = None,
        seed: int = 0,
        silence_db: float = SILENCE_DB,
        tries_per_song: int = 8,
        stem_lufs: float | None = None,
        mix_lufs: float | None = None,
        resample: bool = False,
        targets: Sequence[ParamSlot] | None = None,
        stereo: bool = False,
    ) -> None:
        if segment_seconds <= 0:
            raise ValueError(f"segment_seconds must be positive, got {segment_seconds}.")
        self.sample_rate = int(sample_rate)
        self.segment_frames = max(1, round(segment_seconds * self.sample_rate))
        self.songs: list[CheckedSong] = check_songs(songs, self.sample_rate, resample)
        if not self.songs:
            raise AudioInputError(
                f"None of the {len(songs)} songs can be used (see the warnings above for "
                f"each file); fix or remove those files."
            )
        self.examples_per_epoch = int(examples_per_epoch or len(self.songs))
        self.seed = int(seed)
        self.epoch = 0
        self.silence_db = float(silence_db)
        self.tries_per_song = max(1, int(tries_per_song))
        self.stem_lufs = stem_lufs
        self.mix_lufs = mix_lufs
        self.stereo = bool(stereo)
        self._channels: dict[Path, int] = {}
        self._broken: set[int] = set()
        self._targets = [None if targets is None else reference_settings(c.song, targets)
                         for c in self.songs]

    def __len__(self) -> int:
        return self.examples_per_epoch

    def set_epoch(self, epoch: int) -> None:
        """Draw other segments from now on (call before each epoch, as with samplers)."""
        self.epoch = int(epoch)

    def __getitem__(self, index: int) -> Example:
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} examples")
        rng = np.random.default_rng([self.seed, self.epoch, index])
        n = len(self.songs)
        for offset in range(n):
            song_index = (index + offset) % n
            if song_index in self._broken:
                continue
            example = self._segment_of(song_index, rng)
            if example is not None:
                return example
        raise AudioInputError(
            "No song yields an audible segment any more (see the warnings for each file); "
            "check the dataset."
        )

    def _segment_of(self, song_index: int, rng: np.random.Generator) -> Example | None:
        """A useful segment of one song, or ``None`` if it is broken or always silent."""
        checked = self.songs[song_index]
        for _ in range(self.tries_per_song):
            start = random_start(rng, checked.frames, self.segment_frames)
            try:
                stems, mix, channels = self._read(checked, start)
            except AudioInputError as exc:
                report(checked.song.name, str(exc), "skipping this song from now on")
                self._broken.add(song_index)
                return None
            if is_useful_segment(stems, mix, self.silence_db):
                stereo = tuple(c == 2 for c in channels) if stems.dim() == 3 else None
                return self._example(checked.song, stems, mix, start, self._targets[song_index],
                                     stereo)
        return None

    def channels_of(self, path: Path, file_channels: int) -> int:
        """1 or 2: how a stem is read (2 only with ``stereo``, for a really stereo file)."""
        if not self.stereo or file_channels != 2:
            return 1
        if path not in self._channels:  # once per file and worker: the whole file is read
            audio, _ = read_audio(path)
            self._channels[path] = check_stereo(path.name, audio).channels
        return self._channels[path]

    def _read(self, checked: CheckedSong, start: int
              ) -> tuple[torch.Tensor, torch.Tensor, list[int]]:
        song, frames = checked.song, self.segment_frames
        channels = [self.channels_of(Path(path), info.channels)
                    for path, info in zip(song.stems, checked.stem_infos, strict=True)]
        wide = 2 in channels
        # Filled through numpy: torch copies are slow when workers compete for threads.
        stems = np.empty((len(song.stems), *((2,) if wide else ()), frames), dtype=np.float32)
        for k, (path, info) in enumerate(zip(song.stems, checked.stem_infos, strict=True)):
            audio = read_segment(path, start, frames, info.sample_rate, self.sample_rate,
                                 mono=channels[k] == 1).numpy()
            stems[k] = audio if wide else audio[0]  # a mono track on both sides
        mix = read_segment(song.mix, start, frames, checked.mix_info.sample_rate,
                           self.sample_rate).numpy()
        end = max(checked.frames - start, 0)
        stems[..., end:] = 0.0  # nothing of any file past the end of the mix
        mix[:, end:] = 0.0
        return torch.from_numpy(stems), torch.from_numpy(mix), channels

    def _example(
        self, song: Song, stems: torch.Tensor, mix: torch.Tensor, start: int,
        targets: torch.Tensor | None = None, stereo: tuple[bool, ...] | None = None,
    ) -> Example:
        if self.stem_lufs is not None:
            stems = normalise_tracks(stems, self.sample_rate, self.stem_lufs, stereo)
        if self.mix_lufs is not None:
            mix = normalise_loudness(mix, self.sample_rate, self.mix_lufs)
        if self.stem_lufs is not None and targets is not None:
            targets = None  # the faders were set for the stems as recorded, not as normalised
        return Example(
            stems, mix, song.stem_names, song.roles, song.name, start,
            targets, stereo,
        )


def _seed_worker(worker_id: int) -> None:
    # Examples draw from their own generators; this keeps any other library use reproducible.
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)


def make_loader(
    dataset: MultitrackDataset,
    batch_size: int,
    shuffle: bool = True,
    num_workers: int = 0,
    seed: int = 0,
    **options,
) -> DataLoader:
    """A DataLoader with the padding collate and a seeded shuffle."""
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        num_workers=num_workers,
        collate_fn=collate_examples,
        generator=generator,
        worker_init_fn=_seed_worker if num_workers else None,
        persistent_workers=False,
        **options,
    )
