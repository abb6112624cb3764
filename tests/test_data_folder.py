"""The plain folder layout and every bad-data case of the issue, on files written here."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from console.data import DataWarning, MultitrackDataset, scan_folder
from console.errors import AudioInputError

SR = 8000


def tone(seconds: float, freq: float, channels: int = 1, sr: int = SR) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    wave = (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return np.stack([wave] * channels, axis=1)


def write_song(
    root: Path, name: str, stems: dict[str, np.ndarray], mix: np.ndarray | None, sr: int = SR
) -> Path:
    folder = root / name
    (folder / "stems").mkdir(parents=True)
    for stem, audio in stems.items():
        sf.write(folder / "stems" / stem, audio, sr)
    if mix is not None:
        sf.write(folder / "mix.wav", mix, sr)
    return folder


def good_song(root: Path, name: str, k: int = 2, seconds: float = 1.0) -> Path:
    stems = {f"track{i}.wav": tone(seconds, 200.0 * (i + 1)) for i in range(k)}
    return write_song(root, name, stems, tone(seconds, 200.0, channels=2))


def test_scan_reads_songs_with_names_roles_and_paths(tmp_path):
    write_song(tmp_path, "b_song", {"kick.wav": tone(1, 60), "Bass DI.flac": tone(1, 80)},
               tone(1, 60, 2))
    good_song(tmp_path, "a_song", k=3)
    songs = scan_folder(tmp_path)
    assert [s.name for s in songs] == ["a_song", "b_song"]
    b = songs[1]
    assert b.stem_names == ("Bass DI.flac", "kick.wav")
    assert b.roles == ("bass", "kick")
    assert b.mix == tmp_path / "b_song" / "mix.wav"
    assert all(p.is_file() for p in b.stems)


def test_a_folder_that_is_one_song_is_read_as_one(tmp_path):
    folder = good_song(tmp_path, "only", k=2)
    songs = scan_folder(folder)
    assert len(songs) == 1 and songs[0].name == "only"


def test_empty_song_folders_are_reported_with_their_path_and_skipped(tmp_path):
    good_song(tmp_path, "fine")
    (tmp_path / "empty").mkdir()
    (tmp_path / "no_stems" / "stems").mkdir(parents=True)
    write_song(tmp_path, "no_mix", {"a.wav": tone(1, 100)}, None)
    with pytest.warns(DataWarning) as record:
        songs = scan_folder(tmp_path)
    assert [s.name for s in songs] == ["fine"]
    messages = " ".join(str(w.message) for w in record)
    for name in ("empty", "no_stems", "no_mix"):
        assert str(tmp_path / name) in messages


def test_missing_dataset_folder_is_refused(tmp_path):
    with pytest.raises(AudioInputError, match="does not exist"):
        scan_folder(tmp_path / "nowhere")


def _dataset_warnings(root: Path, **options) -> tuple[MultitrackDataset, list[str]]:
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        ds = MultitrackDataset(scan_folder(root), sample_rate=SR, segment_seconds=0.25, **options)
    return ds, [str(w.message) for w in record if issubclass(w.category, DataWarning)]


@pytest.mark.parametrize("channels", [1, 3])
def test_a_mix_that_is_not_stereo_skips_its_song(tmp_path, channels):
    good_song(tmp_path, "fine")
    write_song(tmp_path, "odd", {"a.wav": tone(1, 100)}, tone(1, 100, channels))
    ds, messages = _dataset_warnings(tmp_path)
    assert [c.song.name for c in ds.songs] == ["fine"]
    assert any(str(tmp_path / "odd" / "mix.wav") in m and "not stereo" in m for m in messages)


def test_a_corrupt_file_skips_its_song(tmp_path):
    good_song(tmp_path, "fine")
    bad = good_song(tmp_path, "broken")
    (bad / "stems" / "track1.wav").write_bytes(b"RIFF\x00\x00garbage, not audio")
    ds, messages = _dataset_warnings(tmp_path)
    assert [c.song.name for c in ds.songs] == ["fine"]
    assert any(str(bad / "stems" / "track1.wav") in m for m in messages)


def test_a_wrong_sample_rate_skips_the_song_unless_resampling(tmp_path):
    good_song(tmp_path, "fine")
    write_song(tmp_path, "fast", {"a.wav": tone(1, 100, sr=16000)}, tone(1, 100, 2, sr=16000),
               sr=16000)
    ds, messages = _dataset_warnings(tmp_path)
    assert [c.song.name for c in ds.songs] == ["fine"]
    assert any("16000 Hz" in m and str(tmp_path / "fast") in m for m in messages)
    resampled, _ = _dataset_warnings(tmp_path, resample=True)
    assert sorted(c.song.name for c in resampled.songs) == ["fast", "fine"]
    fast = next(i for i, c in enumerate(resampled.songs) if c.song.name == "fast")
    example = resampled[fast]
    assert example.stems.shape == (1, int(0.25 * SR)) and example.mix.shape == (2, int(0.25 * SR))


def test_a_stem_shorter_than_the_mix_is_reported_and_padded(tmp_path):
    write_song(tmp_path, "short", {"long.wav": tone(1.0, 100), "short.wav": tone(0.2, 300)},
               tone(1.0, 100, 2))
    ds, messages = _dataset_warnings(tmp_path, examples_per_epoch=20, seed=3)
    assert any(str(tmp_path / "short" / "stems" / "short.wav") in m for m in messages)
    late = [ds[i] for i in range(20) if ds[i].start > 0.3 * SR]
    assert late, "some segment should start after the short stem has ended"
    assert all(float(e.stems[1].abs().max()) == 0.0 for e in late)
    assert all(e.stems.shape == (2, int(0.25 * SR)) for e in late)


def test_a_file_that_breaks_while_reading_does_not_stop_the_epoch(tmp_path):
    good_song(tmp_path, "a_fine")
    bad = good_song(tmp_path, "b_breaks")
    ds, _ = _dataset_warnings(tmp_path, examples_per_epoch=6)
    # The header was fine when checked; now the data is gone (a truncated copy, say).
    path = bad / "stems" / "track0.wav"
    path.write_bytes(path.read_bytes()[:30])
    with pytest.warns(DataWarning, match="b_breaks"):
        examples = [ds[i] for i in range(len(ds))]
    assert len(examples) == 6
    assert {e.song for e in examples} == {"a_fine"}


def test_no_usable_song_is_refused_with_one_error(tmp_path):
    write_song(tmp_path, "mono", {"a.wav": tone(1, 100)}, tone(1, 100, 1))
    with pytest.warns(DataWarning), pytest.raises(AudioInputError, match="None of the 1 songs"):
        MultitrackDataset(scan_folder(tmp_path), sample_rate=SR)


def test_roles_come_from_session_json_where_it_records_them(tmp_path):
    import json

    from console.data.folder import recorded_roles

    folder = tmp_path / "song"
    stems = [folder / "stems" / n for n in ("ride.wav", "pad.wav", "kick.wav", "vox.wav")]
    folder.mkdir()
    assert recorded_roles(folder, stems) == ["other", "keys", "kick", "vocals"]  # guessed
    (folder / "session.json").write_text(json.dumps({"tracks": [
        {"name": "ride.wav", "role": "overhead"}, {"name": "pad.wav", "role": "pad"},
        {"name": "kick.wav", "role": "no-such-role"}]}))
    assert recorded_roles(folder, stems) == ["overhead", "pad", "kick", "vocals"]
    (folder / "session.json").write_text("{ not json")
    assert recorded_roles(folder, stems) == ["other", "keys", "kick", "vocals"]
