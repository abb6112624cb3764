"""Fidelity and CPU speed of the shipped emulators, beside bypass and the DSP variants.

For every emulator with shipped weights: MR-STFT error (auraloss' default
``MultiResolutionSTFTLoss``, lower is better) and SNR (dB, higher is better)
against its reference on held-out audio (the test split of sonic-pi-samples,
else synthetic sessions), for the emulator, bypass (the unprocessed input) and
the DSP variant at the same settings; then the CPU real-time factor of a
forward pass over 8 tracks x 10 s at 44.1 kHz (time / 10 s; below 1 is faster
than real time), for the emulator and the DSP variant.

Run: ``python benchmarks/bench_emulators.py [--threads 2] [--examples 32]``.
"""

from __future__ import annotations

import argparse
import time

import torch

from console.errors import CheckpointError
from console.plugins import get_plugins
from console.training.emulator_data import EffectPairDataset, split_clips
from console.training.emulator_metrics import compare_on

SAMPLE_RATE = 44100
TRACKS, SECONDS = 8, 10.0


def real_time_factor(effect: torch.nn.Module, repeats: int) -> float:
    generator = torch.Generator().manual_seed(0)
    audio = 0.1 * torch.randn(TRACKS, 1, int(SECONDS * SAMPLE_RATE), generator=generator)
    params = torch.stack([s.sample(TRACKS, generator=generator) for s in effect.params], 1)
    times = []
    with torch.no_grad():
        for _ in range(repeats):
            start = time.perf_counter()
            effect(audio, params, SAMPLE_RATE)
            times.append(time.perf_counter() - start)
    return min(times) / SECONDS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--examples", type=int, default=32, help="held-out examples per effect")
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    plugins = get_plugins()
    clips, source = split_clips(None, SAMPLE_RATE)
    print(f"held-out audio: test split of {source}; torch threads: {args.threads}\n")
    print("| emulator | reference | output | MR-STFT | SNR (dB) | CPU RTF |")
    print("| --- | --- | --- | --- | --- | --- |")
    for family in ("eq", "comp", "reverb"):
        try:
            emulator = plugins.resolve("effect", f"{family}:tcn").create()
        except CheckpointError:
            print(f"| {family}:tcn | - | no shipped weights | - | - | - |")
            continue
        kind = type(emulator)
        dsp = plugins.resolve("effect", kind.dsp_reference).create()
        reference = kind.reference_name("auto")
        data = EffectPairDataset(
            clips["test"], emulator.params, kind.reference("auto"),
            int(kind.training_seconds * SAMPLE_RATE), args.examples, seed=2024,
        )
        scores = compare_on(data, {kind.name: emulator, "bypass": None, dsp.name: dsp},
                            SAMPLE_RATE)
        speed = {kind.name: real_time_factor(emulator, args.repeats),
                 dsp.name: real_time_factor(dsp, args.repeats)}
        for name, score in scores.items():
            rtf = f"{speed[name]:.3f}" if name in speed else "-"
            print(f"| {kind.name} | {reference} | {name} | {score.mrstft:.3f} | "
                  f"{score.snr_db:.1f} | {rtf} |", flush=True)


if __name__ == "__main__":
    main()
