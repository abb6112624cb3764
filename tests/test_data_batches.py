"""Segments and batches: mixed stem counts, masks, seeds, silence, loudness and workers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from console.data import MultitrackDataset, Song, collate_examples, make_loader
from console.data.loudness import loudness_lufs
from console.data.segments import SILENCE_DB, is_useful_segment, rms_db

SR = 8000


def write_song(root: Path, name: str, k: int, seconds: float = 2.0, gaps: bool = False) -> Song:
    """``k`` noise stems and a stereo mix; with ``gaps`` everything is silent but 0.3 s."""
    rng = np.random.default_rng(k)
    frames = int(seconds * SR)
    envelope = np.ones(frames, dtype=np.float32)
    if gaps:
        envelope[:] = 0.0
        envelope[int(1.2 * SR): int(1.5 * SR)] = 1.0
    folder = root / name
    (folder / "stems").mkdir(parents=True)
    stems = []
    for i in range(k):
        path = folder / "stems" / f"s{i}.wav"
        sf.write(path, 0.1 * envelope * rng.standard_normal(frames).astype(np.float32), SR)
        stems.append(path)
    mix = folder / "mix.wav"
    sf.write(mix, 0.1 * envelope[:, None] * rng.standard_normal((frames, 2)).astype(np.float32), SR)
    return Song(name, stems, [p.name for p in stems], ["other"] * k, mix)


@pytest.fixture
def songs(tmp_path: Path) -> list[Song]:
    return [write_song(tmp_path, f"song{k}", k) for k in (2, 5, 3)]


def test_a_batch_pads_stems_and_masks_the_padding(songs):
    ds = MultitrackDataset(songs, sample_rate=SR, segment_seconds=0.5)
    batch = collate_examples([ds[i] for i in range(3)])
    assert batch.stems.shape == (3, 5, SR // 2)
    assert batch.mix.shape == (3, 2, SR // 2)
    assert batch.mask.dtype == torch.bool
    assert batch.mask.sum(dim=1).tolist() == [2, 5, 3]
    assert batch.stems[~batch.mask].abs().max() == 0
    assert (rms_db(batch.stems[batch.mask]) > SILENCE_DB).all()
    assert [len(n) for n in batch.names] == [2, 5, 3]
    assert batch.songs == ["song2", "song5", "song3"]


def test_the_same_seed_gives_the_same_batches_and_another_seed_does_not(songs):
    def starts(seed: int, workers: int = 0) -> list[list[int]]:
        ds = MultitrackDataset(songs, sample_rate=SR, segment_seconds=0.25,
                               examples_per_epoch=6, seed=seed)
        loader = make_loader(ds, batch_size=3, num_workers=workers, seed=seed)
        return [b.starts.tolist() + [hash(tuple(b.songs))] for b in loader]

    assert starts(1) == starts(1)
    assert starts(1) != starts(2)


def test_set_epoch_draws_new_segments_reproducibly(songs):
    ds = MultitrackDataset(songs, sample_rate=SR, segment_seconds=0.25, seed=0)
    first = [ds[i].start for i in range(3)]
    ds.set_epoch(1)
    second = [ds[i].start for i in range(3)]
    ds.set_epoch(0)
    assert [ds[i].start for i in range(3)] == first != second


def test_dataloader_with_two_workers_matches_one_process(songs):
    ds = MultitrackDataset(songs, sample_rate=SR, segment_seconds=0.25,
                           examples_per_epoch=6, seed=4)
    single = list(make_loader(ds, batch_size=2, num_workers=0, seed=4))
    multi = list(make_loader(ds, batch_size=2, num_workers=2, seed=4))
    assert len(single) == len(multi) == 3
    for a, b in zip(single, multi, strict=True):
        assert a.songs == b.songs
        assert torch.equal(a.stems, b.stems) and torch.equal(a.mask, b.mask)
        assert torch.equal(a.mix, b.mix)


def test_segments_are_never_all_silent(tmp_path):
    song = write_song(tmp_path, "sparse", 3, seconds=4.0, gaps=True)
    ds = MultitrackDataset([song], sample_rate=SR, segment_seconds=0.25,
                           examples_per_epoch=40, tries_per_song=64)
    for i in range(len(ds)):
        example = ds[i]
        assert is_useful_segment(example.stems, example.mix)
        # the audible part is 1.2 s .. 1.5 s; the segment must overlap it
        assert 0.95 * SR < example.start < 1.5 * SR


def test_a_song_that_is_silent_everywhere_gives_way_to_another(tmp_path):
    loud = write_song(tmp_path, "loud", 2)
    quiet = write_song(tmp_path, "quiet", 2)
    for path in quiet.files:
        data, sr = sf.read(path)
        sf.write(path, np.zeros_like(data), sr)
    ds = MultitrackDataset([quiet, loud], sample_rate=SR, segment_seconds=0.25)
    assert {ds[i].song for i in range(len(ds))} == {"loud"}


def test_loudness_normalisation_reaches_its_targets(songs):
    ds = MultitrackDataset(songs, sample_rate=SR, segment_seconds=1.0,
                           stem_lufs=-23.0, mix_lufs=-16.0)
    example = ds[1]
    for track in example.stems:
        assert loudness_lufs(track[None], SR) == pytest.approx(-23.0, abs=0.1)
    assert loudness_lufs(example.mix, SR) == pytest.approx(-16.0, abs=0.1)


def test_collate_refuses_examples_of_different_lengths(songs):
    a = MultitrackDataset(songs, sample_rate=SR, segment_seconds=0.25)[0]
    b = MultitrackDataset(songs, sample_rate=SR, segment_seconds=0.5)[0]
    with pytest.raises(ValueError, match="one length"):
        collate_examples([a, b])
