"""The plain folder layout a user can make from their own sessions.

::

    ROOT/
      SONG_A/
        stems/kick.wav  stems/bass.flac  ...   one file per track (WAV or FLAC)
        mix.wav                                 the stereo reference mix
      SONG_B/ ...

Track names are the stem file names (as ``console mix`` names them); roles are
guessed from those names, unless a ``session.json`` beside the mix (which
``console make-sessions`` writes) records them. A ``ROOT`` that itself holds ``stems/`` and
``mix.wav`` is read as one song, and song folders may be grouped in folders
(``ROOT/SOURCE/SONG/stems``), named then by their path from the root.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import torch

from console import manifest
from console.atomic import atomic_write_text
from console.audio import write_audio
from console.data.problems import report
from console.data.roles import ROLES, guess_role
from console.data.song import Song
from console.errors import AudioInputError
from console.output_paths import install_new_folder

if TYPE_CHECKING:  # console.mix_params imports this package through the master stage
    from console.mix_params import MixParams

STEM_SUFFIXES = (".wav", ".flac")
MIX_NAMES = ("mix.wav", "mix.flac")
#: Generated songs are ``song_0000``, ``song_0001``, ...; new ones take the next free number.
SONG_NAME = re.compile(r"song_(\d{4,})")


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
    mismatch = _stems_unlike_params(folder, names)
    if mismatch:
        report(folder, mismatch, "skipping this song, whose mix was not made from these stems")
        return None
    return Song(
        name=folder.name,
        stems=stems,
        stem_names=names,
        roles=recorded_roles(folder, stems),
        mix=mix,
        dataset="folder",
    )


def _stems_unlike_params(folder: Path, names: Sequence[str]) -> str | None:
    """What differs between the stems and the tracks a generated song's params.json lists.

    A song written by ``make-sessions`` records the tracks its mix was made from;
    stems beside them that it does not list (an older run's, say) would train the
    console on a mix that does not contain them. Folders without such a file pass.
    """
    try:
        data = json.loads((folder / "params.json").read_text(encoding="utf-8"))
        listed = {str(track["name"]) for track in data["tracks"]}
    except (OSError, ValueError, TypeError, KeyError):
        return None
    extra, missing = sorted(set(names) - listed), sorted(listed - set(names))
    if not extra and not missing:
        return None
    parts = ([f"stems/ holds {', '.join(extra)}, which params.json does not list"] if extra
             else []) + ([f"params.json lists {', '.join(missing)}, missing from stems/"]
                         if missing else [])
    return " and ".join(parts)


def scan_folder(root: str | Path) -> list[Song]:
    """Every song under ``root`` in the plain layout; empty or broken folders are reported."""
    root = Path(root)
    if not root.is_dir():
        raise AudioInputError(f"The dataset folder {root} does not exist or is not a folder.")
    if is_song_folder(root):
        song = read_song_folder(root)
        return [song] if song is not None else []
    return _scan_below(root, root, depth=1)


#: How deep song folders may sit below the root (e.g. ROOT/SOURCE/SONG is depth 2).
MAX_DEPTH = 3


def _scan_below(root: Path, folder: Path, depth: int) -> list[Song]:
    """Song folders below ``folder``; a folder without ``stems/`` is searched one level down.

    Songs below the first level are named by their path from the root
    (``fluidr3/song_0000``), so names stay unique across source folders.
    """
    songs = []
    for child in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if is_song_folder(child):
            song = read_song_folder(child)
            if song is not None:
                name = child.relative_to(root).as_posix()
                songs.append(attrs.evolve(song, name=name) if name != song.name else song)
        elif depth < MAX_DEPTH and any(c.is_dir() for c in child.iterdir()):
            songs.extend(_scan_below(root, child, depth + 1))
        else:
            read_song_folder(child)  # reports what is missing
    return songs


def write_song_folder(
    out_dir: str | Path,
    names: Sequence[str],
    stems: torch.Tensor,
    mix: torch.Tensor,
    params: MixParams,
    info: dict[str, Any],
    sample_rate: int,
) -> None:
    """Write one generated song in this layout: ``stems/``, ``mix.wav``, ``params.json``
    (the engineer's settings, which ``console render`` reproduces the mix from) and
    ``session.json`` (how it was made). A stem is written with the channels ``params``
    gives its track."""
    out_dir = Path(out_dir)
    for name, track, channels in zip(names, stems, params.channels, strict=True):
        # stems (K, T), or (K, 2, T) with the mono ones on both sides
        audio = track[None] if track.dim() == 1 else track[:channels]
        write_audio(out_dir / "stems" / name, audio, sample_rate)
    write_audio(out_dir / MIX_NAMES[0], mix, sample_rate)
    params.save(out_dir / "params.json")
    atomic_write_text(out_dir / "session.json", json.dumps(info, indent=2) + "\n")


def next_song_index(root: str | Path) -> int:
    """One more than the highest ``song_NNNN`` in ``root`` (0 for a new or songless folder)."""
    root = Path(root)
    if not root.is_dir():
        return 0
    found = [int(m.group(1)) for p in root.iterdir() if (m := SONG_NAME.fullmatch(p.name))]
    return max(found, default=-1) + 1


def add_song_folder(
    root: str | Path, index: int, write: Callable[[Path], object], command: str
) -> Path:
    """Write a new song with ``write(folder)`` and add it to ``root`` as ``song_NNNN``.

    The song is built in a hidden folder and renamed to the first free name from
    ``song_{index}`` on, so an existing song is never rewritten and a reader never
    sees half a song; what a killed run left is removed first.
    """
    root = Path(root)
    manifest.remove_stale(root, r"song_\d{4,}")
    with manifest.building(root / f"song_{index:04d}") as work:
        write(work)
        names = (f"song_{i:04d}" for i in range(index, index + 1_000_000))
        return install_new_folder(work, root, names, command=command)


def recorded_roles(folder: Path, stems: Sequence[Path]) -> list[str]:
    """Each stem's role as ``session.json`` records it, else guessed from its file name."""
    recorded: dict[str, str] = {}
    path = folder / "session.json"
    if path.is_file():
        try:
            tracks = json.loads(path.read_text(encoding="utf-8")).get("tracks", [])
            recorded = {str(t["name"]): str(t["role"]) for t in tracks
                        if isinstance(t, dict) and "name" in t and "role" in t}
        except (OSError, UnicodeDecodeError, ValueError, AttributeError):
            recorded = {}  # an unreadable file says nothing; names still do
    return [recorded[p.name] if recorded.get(p.name) in ROLES else guess_role(p.stem)
            for p in stems]
