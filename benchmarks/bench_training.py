"""Training steps per second on the CPU: gain+pan and the full chain (DSP and TCN variants).

Batch 4 songs x 8 stems x 3 s, the stereo loss, AdamW; by default what
``console train`` builds (the mel-stats encoder at 22050 Hz, loudness-relative
gains, balanced pans). ``--encoder vggish`` times the published VGGish,
``--small-encoder`` the narrow one. Times are CPU seconds of this process on
``--threads`` intra-op threads (default 1), and wall seconds beside them: on a
shared machine wall time measures the other jobs too.
Run: ``python benchmarks/bench_training.py``.
"""

from __future__ import annotations

import argparse
import time

import torch

from console import Console, ConsoleError
from console.decisions import Decisions
from console.losses import StereoSTFTLoss

# The last is the paper's chain: the emulators of all three effects.
SPECS = ("gain+pan", "gain+eq:dsp+comp:dsp+reverb:dsp+pan", "gain+eq+comp+reverb+pan")


def step_seconds(
    spec: str, steps: int, encoder: str, encoder_options: dict, sr: int
) -> dict[str, float]:
    """CPU and wall seconds per training step (after one warm-up step)."""
    torch.manual_seed(0)
    console = Console.from_spec(spec, encoder=encoder, encoder_options=encoder_options,
                                hidden=128, decisions=Decisions.generalising())
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
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(steps):
        step()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return {"cpu": cpu / steps, "wall": wall / steps}


def steps_per_second(
    spec: str, steps: int, encoder: str, encoder_options: dict, sr: int
) -> float:
    """Steps per CPU second of this process."""
    return 1.0 / step_seconds(spec, steps, encoder, encoder_options, sr)["cpu"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--encoder", default="mel-stats")
    parser.add_argument("--small-encoder", action="store_true", help="narrow VGGish")
    parser.add_argument("--sample-rate", type=int, default=22050)
    parser.add_argument("--specs", nargs="+", default=list(SPECS), help="chains to time")
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    options = {"channels": (16, 32, 64, 64), "fc": (256, 256)} if args.small_encoder else {}
    encoder = "vggish" if args.small_encoder else args.encoder
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU; encoder "
          f"{encoder} {options or ''}; batch 4 x 8 stems x 3 s at {args.sample_rate} Hz")
    for spec in args.specs:
        try:
            seconds = step_seconds(spec, args.steps, encoder, options, args.sample_rate)
        except ConsoleError as exc:
            print(f"{spec:<40} skipped: {exc}")
            continue
        resolved = Console.from_spec(spec, encoder=encoder, encoder_options=options).spec
        print(f"{resolved:<40} {1 / seconds['cpu']:6.3f} steps per CPU-s "
              f"({seconds['cpu']:6.2f} CPU-s/step, {seconds['wall']:6.2f} s/step wall)")


if __name__ == "__main__":
    main()
