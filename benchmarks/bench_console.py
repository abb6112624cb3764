"""CPU real-time factor of a ``gain+pan`` console forward, and how time grows with K.

Run: ``python benchmarks/bench_console.py [--seconds 30] [--sweep-seconds 10]``.
Real-time factor = seconds of audio mixed per second of wall time (above 1 is
faster than real time); the encoder is full-size VGGish, untrained.
"""

from __future__ import annotations

import argparse
import time

import torch

from console import Console


def timed_forward(console: Console, stems: torch.Tensor, sample_rate: int, repeats: int) -> float:
    with torch.no_grad():
        console(stems, sample_rate=sample_rate)  # warm-up
        start = time.perf_counter()
        for _ in range(repeats):
            console(stems, sample_rate=sample_rate)
    return (time.perf_counter() - start) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--sweep-seconds", type=float, default=10.0)
    parser.add_argument("--sample-rate", type=int, default=44100)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    sr = args.sample_rate
    torch.manual_seed(0)
    console = Console.from_spec("gain+pan").eval()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU")

    stems = 0.1 * torch.randn(1, 8, int(args.seconds * sr))
    wall = timed_forward(console, stems, sr, args.repeats)
    print(
        f"gain+pan forward, 8 stems x {args.seconds:g} s at {sr} Hz: {wall:.2f} s "
        f"-> real-time factor {args.seconds / wall:.1f}x"
    )

    print(f"\nscaling with K ({args.sweep_seconds:g} s per stem):")
    print(f"{'K':>4} {'seconds':>9} {'s per stem':>11}")
    base = None
    for k in (1, 4, 16, 64):
        stems = 0.1 * torch.randn(1, k, int(args.sweep_seconds * sr))
        wall = timed_forward(console, stems, sr, args.repeats)
        base = base or wall
        print(f"{k:>4} {wall:>9.3f} {wall / k:>11.3f}   ({wall / base:.1f}x K=1)")


if __name__ == "__main__":
    main()
