"""``console make-sessions``: write generated multitrack songs in the plain folder layout."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

from tqdm import tqdm

from console.audio import check_sample_rate
from console.cli.checks import parse_seed
from console.errors import ConsoleError
from console.output_paths import check_output_folder

#: The longest song --duration asks for, in seconds: every stem of a song is built in memory.
MAX_DURATION = 600.0
#: The shortest: a few notes' worth (a song of no samples cannot be generated).
MIN_DURATION = 0.1
#: The first generator's choices: its fixed little band, from sonic-pi samples or synthesis.
LEGACY_SOURCES = ("auto", "samples", "synth")


def add_parser(subparsers: Any) -> None:
    from console.data.engineer import DEFAULT_ENGINEER, ENGINEERS
    from console.data.sources import SOURCES

    recorded = ", ".join(f"{name} ({s.description})" for name, s in SOURCES.items())
    parser = subparsers.add_parser(
        "make-sessions",
        help="render multitrack songs with reference mixes",
        description="Write N songs to OUT/song_XXXX/ (stems/, mix.wav, params.json, "
        "session.json), each mixed by a rule-based engineer. Songs already in OUT are never "
        "rewritten: new ones take the next free numbers, so a second run with a new --seed "
        "adds to a dataset (a seed a song there already used is refused, as the copy would "
        "land in training and validation alike). With a recorded source the "
        "songs are a band or a drum kit recorded piece by piece, 2 to 24 stems, every stem "
        "arriving up to 20 dB from where the engineer wants it, and an engineer whose style "
        f"varies from song to song. Sources: {recorded}; 'all' takes the installed ones in "
        "turn. The legacy choices auto/samples/synth write the first generator's fixed band.",
    )
    parser.add_argument("out", type=Path,
                        help="folder to write the songs into, new or holding songs to add to")
    parser.add_argument("--n", type=int, default=10, help="number of songs (default 10)")
    parser.add_argument("--seed", type=parse_seed, default=0,
                        help="seed of the first song (default 0)")
    parser.add_argument("--duration", type=float, default=10.0,
                        help="seconds per song, 0.1 to 600 (default 10)")
    parser.add_argument("--sample-rate", type=int, default=44100, help="(default 44100)")
    parser.add_argument(
        "--source", default="auto", metavar="SOURCE",
        help="a recorded source, 'procedural', 'all', or a legacy choice (default auto)",
    )
    parser.add_argument(
        "--kind", choices=("any", "band", "drums"), default="any",
        help="recorded sources: a band, a drum kit alone, or either (default any)",
    )
    parser.add_argument("--max-stems", type=int, default=24,
                        help="recorded sources: most stems per song (default 24)")
    parser.add_argument(
        "--colour", type=float, default=0.0, metavar="DB",
        help="recorded sources: colour every stem as a microphone and room would, with a "
        "random bass shelf within ±DB and treble shelf within ±0.75 DB, so a console "
        "trained on them cannot learn one source's tone (default 0: as the source plays)",
    )
    parser.add_argument(
        "--stereo", type=float, default=0.0, metavar="SHARE",
        help="SoundFont sources: record this share (0 to 1) of the cymbal, keys, pad and "
        "strings parts as stereo stems, each with its instrument's own image; the engineer "
        "keeps that image (a balance near the centre). Training reads stems as mono; "
        "`console mix` and the benchmark keep them stereo (default 0: every stem mono)",
    )
    parser.add_argument("--spec", default=None, help="the engineer's chain (default: fullest)")
    engineers = "; ".join(f"{name}: {e.description}" for name, e in ENGINEERS.items())
    parser.add_argument(
        "--engineer", default=DEFAULT_ENGINEER, metavar="NAME",
        help=f"recorded sources: who mixes the songs ({engineers}); session.json names any "
        f"but the default in engineer_name (default {DEFAULT_ENGINEER})",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from console.data.sources import SOURCES, installed_sources

    if args.n < 1:
        raise ConsoleError(f"--n must be at least 1, got {args.n}.")
    check_duration(args.duration)
    check_sample_rate(args.sample_rate, "--sample-rate")
    if args.max_stems < 2:
        raise ConsoleError(f"--max-stems must be at least 2, got {args.max_stems}.")
    if not 0.0 <= args.colour <= 24.0:
        raise ConsoleError(f"--colour must be within 0 to 24 dB, got {args.colour}.")
    if not 0.0 <= args.stereo <= 1.0:
        raise ConsoleError(f"--stereo must be a share from 0 to 1, got {args.stereo}.")
    from console.data.engineer import DEFAULT_ENGINEER, get_engineer

    get_engineer(args.engineer)  # an unknown name is refused before any work
    check_output_folder(args.out, "dataset folder")
    if args.source in LEGACY_SOURCES:
        if args.stereo:
            raise ConsoleError(
                f"--stereo records stems from SoundFont sources; the legacy choice "
                f"{args.source!r} plays mono only. Pick a --source such as fluidr3."
            )
        if args.engineer != DEFAULT_ENGINEER:
            raise ConsoleError(
                f"--engineer mixes songs from recorded sources; the legacy choice "
                f"{args.source!r} has the default engineer only. Pick a --source such as "
                f"procedural."
            )
        return _legacy(args)
    if args.source == "all":
        sources = installed_sources()
    elif args.source in SOURCES:
        sources = [args.source]
        if not SOURCES[args.source].installed():
            raise ConsoleError(
                f"The source {args.source!r} ({SOURCES[args.source].description}) is not "
                f"installed here; installed: {', '.join(installed_sources())}."
            )
    else:
        raise ConsoleError(
            f"Unknown source {args.source!r}; choose one of {', '.join(SOURCES)}, 'all', or "
            f"{', '.join(LEGACY_SOURCES)}."
        )
    from console.data.recorded import UnplayableSession, write_recorded_session

    kind = None if args.kind == "any" else args.kind
    songs = [(sources[i % len(sources)], args.seed + i) for i in range(args.n)]
    check_new_seeds(args.out, [("recorded", source, seed) for source, seed in songs])
    written, skipped = [], []
    for i, (source, seed) in enumerate(tqdm(songs, desc="sessions", unit="song")):
        song_kind = "drums" if kind and not SOURCES[source].plays_melodic else kind

        def write(folder: Path, source: str = source, seed: int = seed,
                  song_kind: str | None = song_kind) -> None:
            write_recorded_session(
                folder, seed=seed, source=source, duration=args.duration,
                sample_rate=args.sample_rate, kind=song_kind, spec=args.spec,
                max_stems=args.max_stems, colour_db=args.colour, engineer=args.engineer,
                stereo=args.stereo,
            )

        try:
            written.append(add_song(args.out, write))
        except UnplayableSession as exc:  # one unlucky draw: the other songs still count
            skipped.append(seed)
            print(f"console make-sessions: warning: seed {seed} skipped: {exc}", file=sys.stderr)
        except (FileNotFoundError, RuntimeError, ValueError) as exc:
            raise ConsoleError(f"song {i} ({source}): {exc}") from exc
    if not written:
        raise ConsoleError(f"No seed gave a playable session ({len(skipped)} skipped); "
                           f"try other seeds or another source.")
    note = f"; seeds {', '.join(map(str, skipped))} skipped" if skipped else ""
    print(f"wrote {len(written)} sessions to {args.out} ({span(written)}) from "
          f"{', '.join(sources)}{note}")
    return 0


def check_duration(duration: float) -> None:
    """``--duration`` of a generated song: seconds, MIN_DURATION to MAX_DURATION."""
    if not (math.isfinite(duration) and MIN_DURATION <= duration <= MAX_DURATION):
        raise ConsoleError(
            f"--duration must be a number of seconds from {MIN_DURATION:g} to "
            f"{MAX_DURATION:g} (songs are generated in memory), got {duration}."
        )


def _legacy(args: argparse.Namespace) -> int:
    from console.data.synthetic import write_session

    seeds = [args.seed + i for i in range(args.n)]
    check_new_seeds(args.out, [("legacy", None, seed) for seed in seeds])
    written = []
    for seed in tqdm(seeds, desc="sessions", unit="song"):
        def write(folder: Path, seed: int = seed) -> None:
            write_session(folder, seed=seed, duration=args.duration,
                          sample_rate=args.sample_rate, source=args.source, spec=args.spec)

        try:
            written.append(add_song(args.out, write))
        except FileNotFoundError as exc:
            raise ConsoleError(str(exc)) from exc
    print(f"wrote {args.n} sessions to {args.out} ({span(written)})")
    return 0


def add_song(out: Path, write: Any) -> Path:
    """Add a song to ``out`` as the next free ``song_NNNN``; existing songs stay as they are."""
    from console.data.folder import add_song_folder, next_song_index

    return add_song_folder(out, next_song_index(out), write, "console make-sessions")


def span(folders: list[Path]) -> str:
    names = [f.name for f in folders]
    return names[0] if len(names) == 1 else f"{names[0]} to {names[-1]}"


def song_key(info: dict) -> tuple[str, str | None, int | None]:
    """What makes two generated songs the same song: generator, source and seed."""
    if info.get("generator") == "recorded":
        return ("recorded", info.get("source"), info.get("seed"))
    return ("legacy", None, info.get("seed"))


def check_new_seeds(out: Path, new: list[tuple[str, str | None, int]]) -> None:
    """Refuse, before any work, songs that would repeat a song already in ``out``."""
    import json

    from console.data.folder import SONG_NAME

    if not out.is_dir():
        return
    made = {}
    for folder in sorted(out.iterdir()):
        if not SONG_NAME.fullmatch(folder.name):
            continue
        try:
            info = json.loads((folder / "session.json").read_text(encoding="utf-8"))
            made.setdefault(song_key(info), folder)
        except (OSError, ValueError, AttributeError):
            continue
    repeated = [(key, made[key]) for key in new if key in made]
    if repeated:
        (_, source, seed), folder = repeated[0]
        used = [key[2] for key in made if isinstance(key[2], int)]
        origin = f" from {source}" if source else ""
        raise ConsoleError(
            f"{folder} already holds the song of seed {seed}{origin}; a copy would land in "
            f"training and validation alike, so give a --seed no song there used, e.g. "
            f"--seed {max(used) + 1} (existing songs are never rewritten)."
        )
