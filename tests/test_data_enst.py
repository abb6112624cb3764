"""ENST-drums read from a tiny copy of its published layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from console.data import MultitrackDataset, scan_enst, split_songs
from console.data.enst import CHANNELS

SR = 8000
TAKE = "061_phrase_rock_simple_medium_sticks.wav"
HITS = "001_hits_snare-drum_sticks_x6.wav"


def write_drummer(root: Path, n: int, channels: list[str], takes: list[str]) -> None:
    rng = np.random.default_rng(n)
    audio = root / f"drummer_{n}" / "audio"
    for take in takes:
        for channel in channels:
            (audio / channel).mkdir(parents=True, exist_ok=True)
            sf.write(audio / channel / take, 0.1 * rng.standard_normal(SR).astype(np.float32), SR)
        for mix in ("dry_mix", "wet_mix"):
            (audio / mix).mkdir(parents=True, exist_ok=True)
            sf.write(audio / mix / take, 0.1 * rng.standard_normal((SR, 2)).astype(np.float32), SR)
    (root / f"drummer_{n}" / "annotation").mkdir(exist_ok=True)


@pytest.fixture
def enst(tmp_path: Path) -> Path:
    root = tmp_path / "ENST-drums-public"
    all_channels = [c for c, _ in CHANNELS]
    write_drummer(root, 1, [c for c in all_channels if c != "tom_3"], [TAKE, HITS])
    write_drummer(root, 2, all_channels + ["accompaniment"], [TAKE])
    return root


def test_takes_become_songs_with_the_channels_each_drummer_has(enst):
    songs = scan_enst(enst)
    assert [s.name for s in songs] == [f"drummer_1/{TAKE[:-4]}", f"drummer_2/{TAKE[:-4]}"]
    one, two = songs
    assert len(one.stems) == 7 and len(two.stems) == 8
    assert "accompaniment" not in two.stem_names
    assert two.stem_names[:3] == ("kick", "snare", "hi-hat")
    assert two.roles.count("overhead") == 2 and two.roles.count("tom") == 3
    assert one.mix == enst / "drummer_1" / "audio" / "wet_mix" / TAKE
    assert {s.group for s in songs} == {"drummer_1", "drummer_2"}


def test_options_pick_drummers_mix_and_hits(enst):
    dry = scan_enst(enst, drummers=[1], mix="dry_mix", include_hits=True)
    assert len(dry) == 2
    assert all(s.mix.parent.name == "dry_mix" for s in dry)
    with pytest.raises(ValueError, match="mix must be one of"):
        scan_enst(enst, mix="accompaniment")


def test_enst_songs_batch_and_split_by_drummer(enst):
    songs = scan_enst(enst)
    ds = MultitrackDataset(songs, sample_rate=SR, segment_seconds=0.5)
    example = ds[1]
    assert example.stems.shape == (8, SR // 2) and example.mix.shape == (2, SR // 2)
    splits = split_songs(songs, (0.5, 0.5, 0.0), by_group=True)
    assert {s.group for s in splits.train}.isdisjoint({s.group for s in splits.validation})
