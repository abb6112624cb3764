"""``console evaluate``: score consoles and baselines against the reference mixes of a dataset."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from console.audio import check_sample_rate
from console.cli.checks import check_seconds, parse_seed
from console.cli.train import LAYOUTS, detect_layout, scan, split_fractions
from console.errors import ConsoleError
from console.output_paths import check_output_folder

SUBSETS = ("test", "validation", "train", "all")
#: The longest listening-test excerpt: a participant hears each one several times.
MAX_EXCERPT_SECONDS = 600.0


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="compare mixing systems with reference mixes",
        description="Mix every song of DATA's test split (by default) with every system, "
        "whole songs, and score each mix against the song's reference: stereo sum/difference "
        "MR-STFT at equal loudness, loudness error (BS.1770), spectral balance error per "
        "band and stereo width error. Writes per_song.csv, summary.csv, results.json, "
        "metrics.png and listening-test excerpts to --out. Use the --split and --seed of "
        "`console train` so that the test split holds the same songs.",
    )
    parser.add_argument("data", type=Path, help="dataset root or song folder")
    parser.add_argument(
        "--systems", required=True,
        help="comma-separated mixer names (mono, random, loudness, wave-u-net), shipped "
        "consoles (gain+pan) and checkpoints (run/best.pt); label one with label=run/best.pt",
    )
    parser.add_argument("--out", type=Path, required=True, help="folder for the results")
    parser.add_argument("--layout", choices=LAYOUTS, default="auto")
    parser.add_argument("--subset", choices=SUBSETS, default="test",
                        help="which split to evaluate on (default test; all for a held-out set)")
    parser.add_argument("--split", default="0.8,0.1,0.1", help="train,validation,test fractions")
    parser.add_argument("--seed", type=parse_seed, default=0, help="the split's seed")
    parser.add_argument("--sample-rate", type=int, default=44100)
    parser.add_argument("--max-songs", type=int, default=None, help="evaluate the first N songs")
    parser.add_argument("--excerpt-seconds", type=float, default=8.0,
                        help="length of the listening-test excerpts, at most 600; 0 writes "
                        "none")
    parser.add_argument("--no-plots", action="store_true")
    parser.add_argument(
        "--force", action="store_true",
        help="replace results and excerpts in --out even if console did not write them or "
        "they changed since (e.g. a hand-edited summary.csv)",
    )
    parser.add_argument("--no-progress", action="store_true")
    parser.set_defaults(func=run)


def select_songs(args: argparse.Namespace) -> list:
    from console.data import split_songs
    from console.evaluation.songs import usable_songs

    songs = scan(args.data, args.layout)
    if args.subset != "all":
        fractions = split_fractions(args.split)
        layout = detect_layout(args.data) if args.layout == "auto" else args.layout
        by_group = layout == "enst"
        songs = getattr(split_songs(songs, fractions, seed=args.seed, by_group=by_group),
                        args.subset)
    songs = usable_songs(songs, args.sample_rate)
    if args.max_songs is not None:
        songs = songs[: args.max_songs]
    if not songs:
        raise ConsoleError(
            f"The {args.subset} subset of {args.data} has no usable songs; pass --subset all "
            f"or change --split."
        )
    return songs


def run(args: argparse.Namespace) -> int:
    from console.evaluation.report import format_table
    from console.evaluation.run import check_results_folder, evaluate
    from console.evaluation.systems import load_system

    check_sample_rate(args.sample_rate, "--sample-rate")
    if args.max_songs is not None and args.max_songs < 1:
        raise ConsoleError(f"--max-songs must be 1 or more, got {args.max_songs}.")
    check_seconds(args.excerpt_seconds or None, "--excerpt-seconds", 0, MAX_EXCERPT_SECONDS)
    check_output_folder(args.out, "results folder")  # before any system is loaded
    check_results_folder(args.out, args.force)
    names = [s.strip() for s in args.systems.split(",") if s.strip()]
    systems = [load_system(name) for name in names]
    songs = select_songs(args)
    print(f"console evaluate: {len(songs)} songs ({args.subset}), {len(systems)} systems, "
          f"whole songs at {args.sample_rate} Hz", file=sys.stderr)
    summary = evaluate(
        songs, systems, args.out, args.sample_rate,
        excerpt_seconds=args.excerpt_seconds or None, plots=not args.no_plots,
        progress=not args.no_progress,
        settings={"data": str(args.data), "subset": args.subset, "split": args.split,
                  "seed": args.seed},
        force=args.force,
    )
    print(format_table(summary))
    print(f"wrote {args.out}/summary.csv, per_song.csv, results.json"
          + ("" if args.no_plots else ", metrics.png")
          + (", excerpts/" if args.excerpt_seconds else ""))
    return 0
