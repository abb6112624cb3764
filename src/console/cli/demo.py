"""``console demo``: write a small synthetic session and mix it, end to end."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from console.cli import mix


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="write a small example session and mix it",
        description="Render a short synthetic multitrack session into OUT/session and "
        "mix its stems into OUT/mix.wav with OUT/mix.params.json beside it.",
    )
    parser.add_argument("out", type=Path, nargs="?", default=Path("demo-session"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--duration", type=float, default=8.0, help="seconds of music")
    parser.add_argument("--checkpoint", type=Path, default=None, help="a trained console")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from console.data.synthetic import write_session

    session = args.out / "session"
    write_session(session, seed=args.seed, duration=args.duration, sample_rate=44100)
    print(f"wrote a synthetic session to {session}")
    from console.cli.main import build_parser

    mix_argv = ["mix", str(session / "stems"), "-o", str(args.out / "mix.wav"),
                "--seed", str(args.seed)]
    if args.checkpoint is not None:
        mix_argv += ["--checkpoint", str(args.checkpoint)]
    mix_args = build_parser().parse_args(mix_argv)
    return mix.run(mix_args)
