"""CPU cost of the track encoders: CPU seconds per track-second of a forward pass.

Each encoder (default: ``mel-stats``, ``musicnn``, ``vggish``, with their default
options) encodes ``--tracks`` mono tracks of ``--seconds`` at ``--sample-rate``
(44.1 kHz, so resampling is included) with no gradient, on one thread; the
figure is this process's CPU time (``time.process_time``, which other jobs on a
shared machine do not inflate), the median of ``--repeats`` calls after a
warm-up, divided by tracks x seconds. ``musicnn`` with ``frozen=False`` is also
timed forward+backward (gradients to its weights), as fine-tuning would run it.

Run: ``python benchmarks/bench_encoders.py [--tracks 4] [--seconds 10] [--repeats 3]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from console.plugins import get_plugins  # noqa: E402

from timing import timed  # noqa: E402


def per_track_second(name: str, options: dict, audio: torch.Tensor, rate: int, repeats: int,
                     backward: bool = False) -> float:
    encoder = get_plugins().resolve("encoder", name).create(**options)
    encoder.train(backward)

    def run() -> None:
        if backward:
            encoder.zero_grad(set_to_none=True)
            encoder(audio, rate).sum().backward()
        else:
            with torch.no_grad():
                encoder(audio, rate)

    seconds = timed(run, repeats, clock=time.process_time)
    return seconds / (audio.shape[0] * audio.shape[1] / rate)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--encoders", nargs="+", default=["mel-stats", "musicnn", "vggish"])
    parser.add_argument("--tracks", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--sample-rate", type=int, default=44100)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    torch.manual_seed(0)
    audio = 0.1 * torch.randn(args.tracks, int(args.seconds * args.sample_rate))
    print(f"{args.tracks} tracks x {args.seconds:g} s at {args.sample_rate} Hz, one thread, "
          f"CPU seconds per track-second (median of {args.repeats}):")
    rows = [(name, {}, False) for name in args.encoders]
    if "musicnn" in args.encoders:
        rows.append(("musicnn", {"frozen": False}, True))
    for name, options, backward in rows:
        cost = per_track_second(name, options, audio, args.sample_rate, args.repeats, backward)
        what = "forward+backward, unfrozen" if backward else "forward"
        print(f"  {name:<10} {what:<28} {cost:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
