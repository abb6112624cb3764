"""MedleyDB read from a tiny song written in its published layout, with real metadata fields."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import yaml

from console.data import DataWarning, MultitrackDataset, scan_medleydb

SR = 8000
SONG = "AimeeFake_Child"


def write_medleydb_song(root: Path, song: str, bleed: str = "no") -> Path:
    folder = root / song
    stems_dir, raw_dir = folder / f"{song}_STEMS", folder / f"{song}_RAW"
    stems_dir.mkdir(parents=True)
    raw_dir.mkdir()
    rng = np.random.default_rng(0)
    instruments = {"S01": ("drum set", ["kick drum", "snare drum"]),
                   "S02": ("electric bass", ["electric bass"]),
                   "S03": ("female singer", ["female singer"])}
    stems = {}
    for i, (key, (instrument, raws)) in enumerate(instruments.items(), start=1):
        stem_file = f"{song}_STEM_{i:02d}.wav"
        sf.write(stems_dir / stem_file, 0.1 * rng.standard_normal((SR, 2)), SR)
        raw = {}
        for j, raw_instrument in enumerate(raws, start=1):
            raw_file = f"{song}_RAW_{i:02d}_{j:02d}.wav"
            sf.write(raw_dir / raw_file, 0.1 * rng.standard_normal(SR), SR)
            raw[f"R{j:02d}"] = {"filename": raw_file, "instrument": raw_instrument}
        stems[key] = {"component": "melody" if i == 3 else "", "filename": stem_file,
                      "instrument": instrument, "raw": raw}
    sf.write(folder / f"{song}_MIX.wav", 0.1 * rng.standard_normal((SR, 2)), SR)
    metadata = {
        "album": "", "artist": "Aimee Fake", "composer": ["Aimee Fake"], "excerpt": "no",
        "genre": "Singer/Songwriter", "has_bleed": bleed, "instrumental": "no",
        "mix_filename": f"{song}_MIX.wav", "origin": "Independent Artist",
        "producer": ["Someone"], "raw_dir": f"{song}_RAW", "stem_dir": f"{song}_STEMS",
        "stems": stems, "title": "Child", "version": 1.2, "website": [],
    }
    (folder / f"{song}_METADATA.yaml").write_text(yaml.safe_dump(metadata), encoding="utf-8")
    return folder


def test_stems_come_from_the_metadata(tmp_path):
    write_medleydb_song(tmp_path, SONG)
    (song,) = scan_medleydb(tmp_path)
    assert song.name == SONG and song.group == "Aimee Fake"
    assert [p.name for p in song.stems] == [f"{SONG}_STEM_0{i}.wav" for i in (1, 2, 3)]
    assert song.stem_names == ("S01 drum set", "S02 electric bass", "S03 female singer")
    assert song.roles == ("drums", "bass", "vocals")
    assert song.mix == tmp_path / SONG / f"{SONG}_MIX.wav"
    example = MultitrackDataset([song], sample_rate=SR, segment_seconds=0.5)[0]
    assert example.stems.shape == (3, SR // 2) and example.mix.shape == (2, SR // 2)


def test_raw_tracks_can_replace_the_stems(tmp_path):
    write_medleydb_song(tmp_path, SONG)
    (song,) = scan_medleydb(tmp_path, raw=True)
    assert [p.parent.name for p in song.stems] == [f"{SONG}_RAW"] * 4
    assert song.roles == ("kick", "snare", "bass", "vocals")


def test_metadata_from_a_separate_folder_and_bleed_filter(tmp_path):
    audio = tmp_path / "Audio"
    folder = write_medleydb_song(audio, SONG, bleed="yes")
    meta = tmp_path / "Metadata"
    meta.mkdir()
    (folder / f"{SONG}_METADATA.yaml").rename(meta / f"{SONG}_METADATA.yaml")
    assert len(scan_medleydb(audio, metadata_dir=meta)) == 1
    assert scan_medleydb(audio, metadata_dir=meta, skip_bleed=True) == []


def test_missing_or_broken_metadata_is_reported_with_its_path(tmp_path):
    write_medleydb_song(tmp_path, SONG)
    (tmp_path / "NoMeta_Song").mkdir()
    broken = tmp_path / "Broken_Song"
    broken.mkdir()
    (broken / "Broken_Song_METADATA.yaml").write_text("stems: [unclosed", encoding="utf-8")
    with pytest.warns(DataWarning) as record:
        songs = scan_medleydb(tmp_path)
    assert [s.name for s in songs] == [SONG]
    text = " ".join(str(w.message) for w in record)
    assert "NoMeta_Song_METADATA.yaml" in text and "Broken_Song_METADATA.yaml" in text
