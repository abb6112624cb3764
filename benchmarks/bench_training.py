"""Training steps per second on the CPU: gain+pan and the full chain (DSP and TCN variants).

Batch 4 songs x 8 stems x 3 s at 44.1 kHz, the stereo loss, AdamW, full-size
VGGish unless ``--small-encoder``. Run: ``python benchmarks/bench_training.py``.
"""

from __future__ import annotations

import argparse
import time

import torch

from console import Console, ConsoleError
from console.losses import StereoSTFTLoss

# The last is the paper's chain: the emulators of all three effects.
SPECS = ("gain+pan", "gain+eq:dsp+comp:dsp+reverb:dsp+pan", "gain+eq+comp+reverb+pan")


def steps_per_second(spec: str, steps: int, encoder_options: dict, sr: int) -> float:
    torch.manual_seed(0)
    console = Console.from_spec(spec, encoder_options=encoder_options)
    console.chain.requires_grad_(False)
    loss_fn = StereoSTFTLoss()
    opt = torch.optim.AdamW([p for p in console.parameters() if p.requires_grad], lr=1e-4)
    stems = 0.1 * torch.randn(4, 8, 3 * sr)
    target = 0.1 * torch.randn(4, 2, 3 * sr)

    def step() -> None:
        opt.zero_grad()
        loss_fn(console(stems, sample_rate=sr).mix, target).backward()
        opt.step()

    step()  # warm-up
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--small-encoder", action="store_true")
    parser.add_argument("--sample-rate", type=int, default=44100)
    parser.add_argument("--specs", nargs="+", default=list(SPECS), help="chains to time")
    args = parser.parse_args()
    options = {"channels": (16, 32, 64, 64), "fc": (256, 256)} if args.small_encoder else {}
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU; "
          f"encoder {'small' if options else 'full-size'} VGGish; batch 4 x 8 stems x 3 s")
    for spec in args.specs:
        try:
            rate = steps_per_second(spec, args.steps, options, args.sample_rate)
        except ConsoleError as exc:
            print(f"{spec:<40} skipped: {exc}")
            continue
        resolved = Console.from_spec(spec, encoder_options=options).spec
        print(f"{resolved:<40} {rate:6.3f} steps/s  ({1 / rate:6.2f} s/step)")


if __name__ == "__main__":
    main()
