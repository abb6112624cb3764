"""Splits by song (or group), seeded, never sharing a song between train and evaluation."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from console.data import Song, split_songs


def make_songs(n: int, groups: int = 0) -> list[Song]:
    return [
        Song(f"song{i:03d}", [f"/x/{i}.wav"], ["a.wav"], ["other"], f"/x/{i}_mix.wav",
             group=f"artist{i % groups}" if groups else "")
        for i in range(n)
    ]


@settings(max_examples=50, deadline=None)
@given(n=st.integers(3, 60), seed=st.integers(0, 1000))
def test_every_song_lands_in_exactly_one_split(n, seed):
    songs = make_songs(n)
    splits = split_songs(songs, seed=seed)
    names = [s.name for part in (splits.train, splits.validation, splits.test) for s in part]
    assert sorted(names) == sorted(s.name for s in songs)
    assert splits.validation and splits.test and splits.train


def test_splits_are_reproducible_and_ignore_input_order():
    songs = make_songs(30)
    a = split_songs(songs, seed=7)
    b = split_songs(list(reversed(songs)), seed=7)
    assert a == b
    assert split_songs(songs, seed=8) != a
    assert len(a.train) == 24 and len(a.validation) == 3 and len(a.test) == 3


def test_groups_stay_together():
    songs = make_songs(40, groups=8)
    splits = split_songs(songs, seed=1, by_group=True)
    groups = [{s.group for s in part} for part in (splits.train, splits.validation, splits.test)]
    assert groups[0].isdisjoint(groups[1]) and groups[0].isdisjoint(groups[2])
    assert groups[1].isdisjoint(groups[2])


def test_bad_arguments_are_refused():
    songs = make_songs(5)
    with pytest.raises(ValueError, match="unique"):
        split_songs(songs + songs[:1])
    with pytest.raises(ValueError, match="fractions"):
        split_songs(songs, fractions=(1.0, -0.1, 0.1))
