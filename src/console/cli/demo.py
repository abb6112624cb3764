"""``console demo``: write a small synthetic session and mix it, end to end."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from console import manifest
from console.cli import mix
from console.cli.checks import parse_seed
from console.output_paths import check_folder, check_output_folder, check_replace, install_folder

COMMAND = "console demo"


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="write a small example session and mix it",
        description="Render a short synthetic multitrack session into OUT/session and "
        "mix its stems into OUT/mix.wav with OUT/mix.params.json beside it. Running it "
        "again replaces what it wrote, unless you changed it (then add --force; your "
        "changes in OUT/session are moved to OUT/session.kept).",
    )
    parser.add_argument("out", type=Path, nargs="?", default=Path("demo-session"))
    parser.add_argument("--seed", type=parse_seed, default=0)
    parser.add_argument("--duration", type=float, default=8.0,
                        help="seconds of music, 0.1 to 600 (default 8)")
    parser.add_argument("--checkpoint", type=Path, default=None, help="a trained console")
    parser.add_argument("--force", action="store_true",
                        help="replace OUT's session and mix even if they changed since")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from console.cli.main import build_parser
    from console.cli.make_sessions import check_duration
    from console.data.synthetic import write_session

    check_duration(args.duration)
    out = check_output_folder(args.out, "demo folder")
    session = out / "session"
    # Every output is checked before any work: the session folder, the mix, its params.
    check_folder(session, force=args.force, replace_unchanged=True, what="session folder",
                 command=COMMAND)
    check_replace(out / "mix.wav", force=args.force, what="mix")
    check_replace(out / "mix.params.json", force=args.force, what="parameter file",
                  edited=mix.PARAMS_EDITED)
    mix_argv = ["mix", str(session / "stems"), "-o", str(out / "mix.wav"),
                "--seed", str(args.seed)] + (["--force"] if args.force else [])
    if args.checkpoint is not None:
        mix_argv += ["--checkpoint", str(args.checkpoint)]
    mix_args = build_parser().parse_args(mix_argv)
    manifest.remove_stale(out, "session")
    with manifest.building(session) as work:
        write_session(work, seed=args.seed, duration=args.duration, sample_rate=44100)
        installed = install_folder(work, session, force=args.force, replace_unchanged=True,
                                   what="session folder", command=COMMAND)
    print(f"wrote a synthetic session to {session}")
    if installed.kept:
        print(f"console demo: {installed.describe_kept()}", file=sys.stderr)
    return mix.run(mix_args)
