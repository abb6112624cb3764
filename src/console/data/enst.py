"""ENST-drums in its published layout (Gillet and Richard, ISMIR 2006).

::

    ENST-drums-public/
      drummer_1/
        audio/
          kick/ snare/ hi-hat/ tom_1/ tom_2/ tom_3/ overhead_L/ overhead_R/
          dry_mix/ wet_mix/ accompaniment/
            061_phrase_rock_simple_medium_sticks.wav  (one file per take, same
                                                       name in every folder)
        annotation/  video/
      drummer_2/ ...

A take is a song: its stems are the close and overhead channels that exist
for it (mono WAV, 44.1 kHz), its reference the ``wet_mix`` (mixed by an
engineer with effects) or the ``dry_mix``. Drummers have different kits,
so the number of stems varies. The accompaniment is not a drum track and is
left out.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Literal

from console.data.problems import report
from console.data.song import Song
from console.errors import AudioInputError

#: Channel folder and role of each close and overhead microphone.
CHANNELS: tuple[tuple[str, str], ...] = (
    ("kick", "kick"),
    ("snare", "snare"),
    ("hi-hat", "hihat"),
    ("tom_1", "tom"),
    ("tom_2", "tom"),
    ("tom_3", "tom"),
    ("overhead_L", "overhead"),
    ("overhead_R", "overhead"),
)
MIXES = ("wet_mix", "dry_mix")


def scan_enst(
    root: str | Path,
    drummers: Iterable[int] | None = None,
    mix: Literal["wet_mix", "dry_mix"] = "wet_mix",
    include_hits: bool = False,
) -> list[Song]:
    """Every take of the chosen drummers (all by default) as a :class:`Song`.

    Takes named ``*_hits_*`` are single strokes of one instrument, useful for
    transcription but not for mixing; ``include_hits`` keeps them. Songs are
    grouped by drummer, so ``split_songs(..., by_group=True)`` can hold a
    drummer out.
    """
    if mix not in MIXES:
        raise ValueError(f"mix must be one of {MIXES}, got {mix!r}.")
    root = Path(root)
    folders = sorted(p for p in root.glob("drummer_*") if (p / "audio").is_dir())
    if drummers is not None:
        wanted = {f"drummer_{d}" for d in drummers}
        folders = [p for p in folders if p.name in wanted]
    if not folders:
        raise AudioInputError(
            f"No drummer_N/audio folders in {root}; point at the ENST-drums-public folder."
        )
    songs = []
    for drummer in folders:
        audio = drummer / "audio"
        mix_dir = audio / mix
        if not mix_dir.is_dir():
            report(mix_dir, "is missing", f"skipping {drummer.name}")
            continue
        for mix_path in sorted(mix_dir.glob("*.wav")):
            take = mix_path.stem
            if "_hits_" in take and not include_hits:
                continue
            present = [(c, r) for c, r in CHANNELS if (audio / c / mix_path.name).is_file()]
            if not present:
                report(mix_path, "has no close or overhead channel files", "skipping this take")
                continue
            songs.append(
                Song(
                    name=f"{drummer.name}/{take}",
                    stems=[audio / c / mix_path.name for c, _ in present],
                    stem_names=[c for c, _ in present],
                    roles=[r for _, r in present],
                    mix=mix_path,
                    dataset="enst-drums",
                    group=drummer.name,
                )
            )
    return songs
