"""Where shipped consoles put each track, against the engineer's pan on held-out sessions.

The paper's loss cannot tell an image from its mirror, so a console trained on
it may put every track on one side; ``stereo:balanced`` is meant to stop that.
For each console given, prints the mean pan (positive is right), the share of
tracks panned right, the pan's mean absolute error against the reference
session's ``params.json`` and how often an off-centre reference (|pan| > 0.1)
gets the same side.

Run after ``python scripts/train_pretrained.py`` (which writes the sessions)::

    python benchmarks/bench_pretrained_pans.py out/pretrain/held-out \\
        shipped=src/console/pretrained/gain+pan.pt
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from console import Console
from console.audio import load_stems
from console.streaming import stream_mix


def pans(console: Console, songs: list[Path]) -> tuple[torch.Tensor, torch.Tensor]:
    """Predicted and reference pans of every track of ``songs``."""
    column = [i for i, slot in enumerate(console.chain.layout) if slot.spec.name == "pan"][-1]
    predicted, wanted = [], []
    for song in songs:
        stems = load_stems(song / "stems")
        _, params = stream_mix(console.eval(), stems.paths, stems.sample_rate)
        tracks = json.loads((song / "params.json").read_text())["tracks"]
        reference = {t["name"]: t["effects"]["pan"]["pan"] for t in tracks}
        predicted += params[:, column].tolist()
        wanted += [reference[p.name] for p in stems.paths]
    return torch.tensor(predicted), torch.tensor(wanted)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sessions", type=Path, help="held-out sessions with params.json")
    parser.add_argument("consoles", nargs="+", help="LABEL=checkpoint.pt")
    args = parser.parse_args()
    songs = sorted(p for p in args.sessions.iterdir() if (p / "params.json").is_file())
    print(f"{len(songs)} sessions\n")
    print("| console | mean pan | panned right | pan error | same side |")
    print("| --- | --- | --- | --- | --- |")
    wanted = torch.zeros(0)
    for item in args.consoles:
        label, _, path = item.rpartition("=")
        predicted, wanted = pans(Console.load(path), songs)
        off_centre = wanted.abs() > 0.1
        same = (predicted[off_centre].sign() == wanted[off_centre].sign()).float().mean()
        print(
            f"| {label or path} | {predicted.mean():+.2f} | {(predicted > 0).float().mean():.0%} "
            f"| {(predicted - wanted).abs().mean():.3f} | {same:.0%} |"
        )
    print(f"| reference (the engineer) | {wanted.mean():+.2f} | {(wanted > 0).float().mean():.0%} "
          f"| 0 | 100% |")


if __name__ == "__main__":
    main()
