"""The plain folder layout a user can make from their own sessions.

::

    ROOT/
      SONG_A/
        stems/kick.wav  stems/bass.flac  ...   one file per track (WAV or FLAC)
        mix.wav                                 the stereo reference mix
      SONG_B/ ...

Track names are the stem file names (as ``console mix`` names them); roles are
guessed from those names. A ``ROOT`` that itself holds ``stems/`` and
``mix.wav`` is read as one song.
"""

from __future__ import annotations

from pathlib import Path

from console.data.problems import report
from console.data.roles import guess_role
from console.data.song import Song
from console.errors import AudioInputError

STEM_SUFFIXES = (".wav", ".flac")
MIX_NAMES = ("mix.wav", "mix.flac")


def is_song_folder(folder: Path) -> bool:
    """Whether ``folder`` has the ``stems/`` folder of the plain layout."""
    return (folder / "stems").is_dir()


def read_song_folder(folder: str | Path) -> Song | None:
    """One song of the plain layout, or ``None`` (reported) when stems or mix are missing."""
    folder = Path(folder)
    stems_dir = folder / "stems"
    if not stems_dir.is_dir():
        report(folder, "has no stems/ folder", "skipping this song")
        return None
    stems = sorted(
        p for p in stems_dir.iterdir()
        if p.is_file() and p.suffix.lower() in STEM_SUFFIXES and not p.name.startswith(".")
    )
    if not stems:
        report(stems_dir, "contains no .wav or .flac stems", "skipping this song")
        return None
    mix = next((folder / n for n in MIX_NAMES if (folder / n).is_file()), None)
    if mix is None:
        report(folder, "has no mix.wav", "skipping this song")
        return None
    names = [p.name for p in stems]
    return Song(
        name=folder.name,
        stems=stems,
        stem_names=names,
        roles=[guess_role(p.stem) for p in stems],
        mix=mix,
        dataset="folder",
    )


def scan_folder(root: str | Path) -> list[Song]:
    """Every song under ``root`` in the plain layout; empty or broken folders are reported."""
    root = Path(root)
    if not root.is_dir():
        raise AudioInputError(f"The dataset folder {root} does not exist or is not a folder.")
    if is_song_folder(root):
        song = read_song_folder(root)
        return [song] if song is not None else []
    songs = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        song = read_song_folder(folder)
        if song is not None:
            songs.append(song)
    return songs
