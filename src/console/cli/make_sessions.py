"""``console make-sessions``: write synthetic multitrack songs in the plain folder layout."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from tqdm import tqdm

from console.errors import ConsoleError


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "make-sessions",
        help="render synthetic multitrack songs with reference mixes",
        description="Write N songs to OUT/song_XXXX/ (stems/, mix.wav, params.json, "
        "session.json): drums as several stems, bass, keys and/or guitar and a lead, at "
        "random input levels, mixed by a rule-based engineer. Recorded samples are used "
        "where installed (Debian's sonic-pi-samples), synthesis otherwise.",
    )
    parser.add_argument("out", type=Path, help="folder to write the songs into")
    parser.add_argument("--n", type=int, default=10, help="number of songs (default 10)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the first song")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per song")
    parser.add_argument("--sample-rate", type=int, default=44100)
    parser.add_argument(
        "--source", choices=("auto", "samples", "synth"), default="auto",
        help="recorded samples, synthesis, or samples where present (default)",
    )
    parser.add_argument("--spec", default=None, help="the engineer's chain (default: fullest)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from console.data.synthetic import write_session

    if args.n < 1:
        raise ConsoleError(f"--n must be at least 1, got {args.n}.")
    if args.duration <= 0:
        raise ConsoleError(f"--duration must be positive, got {args.duration}.")
    for i in tqdm(range(args.n), desc="sessions", unit="song"):
        try:
            write_session(
                args.out / f"song_{i:04d}", seed=args.seed + i, duration=args.duration,
                sample_rate=args.sample_rate, source=args.source, spec=args.spec,
            )
        except FileNotFoundError as exc:
            raise ConsoleError(str(exc)) from exc
    print(f"wrote {args.n} sessions to {args.out}")
    return 0
