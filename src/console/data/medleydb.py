"""MedleyDB in its published layout (Bittner et al., ISMIR 2014).

::

    MedleyDB/Audio/
      ArtistName_SongTitle/
        ArtistName_SongTitle_METADATA.yaml
        ArtistName_SongTitle_MIX.wav
        ArtistName_SongTitle_STEMS/ArtistName_SongTitle_STEM_01.wav ...
        ArtistName_SongTitle_RAW/ArtistName_SongTitle_RAW_01_01.wav ...

The metadata YAML names the mix (``mix_filename``), the folders
(``stem_dir``, ``raw_dir``) and, under ``stems: {S01: ...}``, each stem's
``filename`` and ``instrument`` with its raw tracks under ``raw: {R01: ...}``.
The YAML may also come from a separate folder (the ``medleydb`` package keeps
them in ``Metadata/``). Either the stems (default) or the raw tracks become
the song's tracks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from console.data.problems import report
from console.data.roles import guess_role
from console.data.song import Song
from console.errors import AudioInputError


def _metadata_path(song_dir: Path, metadata_dir: Path | None) -> Path:
    name = f"{song_dir.name}_METADATA.yaml"
    if metadata_dir is not None and (metadata_dir / name).is_file():
        return metadata_dir / name
    return song_dir / name


def _load_metadata(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        report(path, "the metadata file is missing", "skipping this song")
        return None
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, OSError, UnicodeDecodeError) as exc:
        report(path, f"cannot be read as YAML ({exc})", "skipping this song")
        return None
    if not isinstance(data, dict) or not isinstance(data.get("stems"), dict):
        report(path, "has no 'stems' mapping", "skipping this song")
        return None
    return data


def _tracks(song_dir: Path, data: dict[str, Any], raw: bool) -> list[tuple[Path, str, str]]:
    """``(path, name, instrument)`` of every stem or raw track, in key order."""
    tracks = []
    stem_dir = song_dir / str(data.get("stem_dir") or f"{song_dir.name}_STEMS")
    raw_dir = song_dir / str(data.get("raw_dir") or f"{song_dir.name}_RAW")
    for key in sorted(data["stems"]):
        stem = data["stems"][key] or {}
        if not raw:
            tracks.append((stem_dir / str(stem.get("filename")), str(key), stem.get("instrument")))
            continue
        for raw_key in sorted(stem.get("raw") or {}):
            entry = stem["raw"][raw_key] or {}
            name = f"{key}_{raw_key}"
            tracks.append((raw_dir / str(entry.get("filename")), name, entry.get("instrument")))
    return [(path, name, str(instrument or "")) for path, name, instrument in tracks]


def read_medleydb_song(
    song_dir: str | Path,
    metadata_dir: str | Path | None = None,
    raw: bool = False,
    skip_bleed: bool = False,
) -> Song | None:
    """One song from its folder and metadata, or ``None`` when unusable (reported) or
    left out on purpose (``skip_bleed`` and the metadata says ``has_bleed: 'yes'``)."""
    song_dir = Path(song_dir)
    meta_path = _metadata_path(song_dir, Path(metadata_dir) if metadata_dir else None)
    data = _load_metadata(meta_path)
    if data is None:
        return None
    if skip_bleed and str(data.get("has_bleed", "no")).lower() == "yes":
        return None
    tracks = _tracks(song_dir, data, raw)
    if not tracks:
        report(meta_path, f"lists no {'raw tracks' if raw else 'stems'}", "skipping this song")
        return None
    mix = song_dir / str(data.get("mix_filename") or f"{song_dir.name}_MIX.wav")
    return Song(
        name=song_dir.name,
        stems=[path for path, _, _ in tracks],
        stem_names=[f"{name} {instrument}".strip() for _, name, instrument in tracks],
        roles=[guess_role(instrument) for _, _, instrument in tracks],
        mix=mix,
        dataset="medleydb",
        group=str(data.get("artist") or song_dir.name.split("_", 1)[0]),
    )


def scan_medleydb(
    root: str | Path,
    metadata_dir: str | Path | None = None,
    raw: bool = False,
    skip_bleed: bool = False,
) -> list[Song]:
    """Every song folder under ``root`` (MedleyDB's ``Audio`` folder).

    ``skip_bleed`` leaves out songs whose metadata says ``has_bleed: 'yes'``
    (microphones that hear other instruments). Files named in the metadata
    but absent are reported when the dataset checks the songs.
    """
    root = Path(root)
    if not root.is_dir():
        raise AudioInputError(f"The MedleyDB folder {root} does not exist or is not a folder.")
    songs = []
    for song_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        song = read_medleydb_song(song_dir, metadata_dir, raw, skip_bleed)
        if song is not None:
            songs.append(song)
    return songs
