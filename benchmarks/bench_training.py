"""Training steps per second on the CPU: gain+pan and the full chain (DSP and TCN variants).

Batch 4 songs x 8 stems x 3 s, the stereo loss, AdamW; by default what
``console train`` builds (the mel-stats encoder at 22050 Hz, loudness-relative
gains, balanced pans). ``--encoder vggish`` times the published VGGish,
``--small-encoder`` the narrow one. Run: ``python benchmarks/bench_training.py``.
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


def steps_per_second(
    spec: str, steps: int, encoder: str, encoder_options: dict, sr: int
) -> float:
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
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--encoder", default="mel-stats")
    parser.add_argument("--small-encoder", action="store_true", help="narrow VGGish")
    parser.add_argument("--sample-rate", type=int, default=22050)
    parser.add_argument("--specs", nargs="+", default=list(SPECS), help="chains to time")
    args = parser.parse_args()
    options = {"channels": (16, 32, 64, 64), "fc": (256, 256)} if args.small_encoder else {}
    encoder = "vggish" if args.small_encoder else args.encoder
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU; encoder "
          f"{encoder} {options or ''}; batch 4 x 8 stems x 3 s at {args.sample_rate} Hz")
    for spec in args.specs:
        try:
            rate = steps_per_second(spec, args.steps, encoder, options, args.sample_rate)
        except ConsoleError as exc:
            print(f"{spec:<40} skipped: {exc}")
            continue
        resolved = Console.from_spec(spec, encoder=encoder, encoder_options=options).spec
        print(f"{resolved:<40} {rate:6.3f} steps/s  ({1 / rate:6.2f} s/step)")


if __name__ == "__main__":
    main()
