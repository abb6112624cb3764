"""How many of your songs and minutes it takes to teach the shipped console your engineer.

Fine-tunes the shipped ``gain+pan`` console (``console train --init gain+pan``)
on the first N songs of one engineer's mixes for a wall-clock budget, for every
N and budget asked, then scores the shipped console and every fine-tuned one on
that engineer's held-out songs in one benchmark run
(``benchmarks/bench_generalisation.py --songs``). No held-out song is heard by
any run; each run keeps its last weights (no validation split to choose from).

Run from the repository root, e.g. on songs mixed by the ``punchy`` engineer from
a source the shipped console never trained on::

    console make-sessions out/engineer/train --source freepats --engineer punchy \\
        --n 40 --seed 1100000 --duration 10 --sample-rate 22050
    console make-sessions out/engineer/held-out --source freepats --engineer punchy \\
        --n 20 --seed 1200000 --duration 10 --sample-rate 22050
    python scripts/learn_my_engineer.py --train out/engineer/train \\
        --held-out out/engineer/held-out --songs 10 40 --minutes 2 10 --out out/engineer/runs
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]


def subset(train: Path, count: int, folder: Path) -> Path:
    """A folder linking the first ``count`` songs of ``train``."""
    songs = sorted(p for p in train.iterdir() if (p / "stems").is_dir())
    if count > len(songs):
        sys.exit(f"{train} holds {len(songs)} songs, fewer than {count}.")
    folder.mkdir(parents=True, exist_ok=True)
    for song in songs[:count]:
        link = folder / song.name
        if not link.exists():
            link.symlink_to(song.resolve())
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", type=Path, required=True)
    parser.add_argument("--held-out", type=Path, required=True)
    parser.add_argument("--songs", type=int, nargs="+", default=[10, 40])
    parser.add_argument("--minutes", type=float, nargs="+", default=[2.0, 10.0])
    parser.add_argument("--init", default="gain+pan", help="the console to start from")
    parser.add_argument("--out", type=Path, default=Path("out/engineer/runs"))
    parser.add_argument("--train-options", default="",
                        help="further `console train` options, e.g. '--level-weight 0'")
    args = parser.parse_args()
    systems = [f"shipped={args.init}"]
    steps = {}
    for count in args.songs:
        data = subset(args.train, count, args.out / f"songs-{count}")
        for minutes in args.minutes:
            label = f"{count} songs, {minutes:g} min"
            run = args.out / f"run-{count}-{minutes:g}m"
            if not (run / "console.pt").is_file():
                subprocess.run(
                    [sys.executable, "-m", "console.cli.main", "train", "--init", args.init,
                     "--data", str(data), "--out", str(run), "--split", "1,0,0",
                     "--max-time", f"{minutes * 60:g}s", "--no-progress",
                     *args.train_options.split()], check=True)
            state = torch.load(run / "train_state.pt", weights_only=True)
            steps[label] = int(state["step"])
            systems.append(f"{label}={run / 'console.pt'}")
    tables = args.out / "tables"
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_generalisation.py"),
                    "--songs", str(args.held_out), "--systems", *systems, "--out", str(tables)],
                   check=True)
    (tables / "steps.json").write_text(json.dumps(steps, indent=2) + "\n", encoding="utf-8")
    print("\nsteps reached: " + ", ".join(f"{k}: {v}" for k, v in steps.items()))


if __name__ == "__main__":
    main()
