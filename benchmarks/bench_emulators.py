"""Fidelity and CPU speed of the shipped emulators, beside bypass and the DSP variants.

For every emulator with shipped weights: MR-STFT error (auraloss' default
``MultiResolutionSTFTLoss``, lower is better) and SNR (dB, higher is better)
against its reference on held-out audio (the test split of sonic-pi-samples,
else synthetic sessions), for the emulator, bypass (the unprocessed input) and
the DSP variant at the same settings; then the CPU real-time factor of a
forward pass over 8 tracks x 10 s at 44.1 kHz (CPU seconds of this process /
10 s, on ``--threads`` threads; below 1 is faster than real time), for the
emulator and the DSP variant. ``benchmarks/bench_fast_effects.py`` puts these
beside forward+backward times, memory and training in one table.

Run: ``python benchmarks/bench_emulators.py [--threads 1] [--examples 32]``.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import torch

from console.errors import CheckpointError
from console.plugins import get_plugins
from console.training.emulator_data import EffectPairDataset, split_clips
from console.training.emulator_metrics import compare_on

SAMPLE_RATE = 44100
TRACKS, SECONDS = 8, 10.0
FAMILIES = ("eq", "comp", "reverb")


def real_time_factor(effect: torch.nn.Module, repeats: int) -> float:
    generator = torch.Generator().manual_seed(0)
    audio = 0.1 * torch.randn(TRACKS, 1, int(SECONDS * SAMPLE_RATE), generator=generator)
    params = torch.stack([s.sample(TRACKS, generator=generator) for s in effect.params], 1)
    times = []
    with torch.no_grad():
        for _ in range(repeats):
            start = time.process_time()
            effect(audio, params, SAMPLE_RATE)
            times.append(time.process_time() - start)
    return min(times) / SECONDS


def fidelity_rows(examples: int, families: tuple[str, ...] = FAMILIES) -> tuple[str, list[dict]]:
    """Where the held-out audio came from, and per family the emulator, bypass and DSP scores.

    Each row: ``family``, ``emulator``, ``reference``, ``output`` (the emulator's name,
    ``bypass`` or the DSP effect's name), ``mrstft``, ``snr_db``; a family without
    shipped weights gives one row with ``error``.
    """
    plugins = get_plugins()
    clips, source = split_clips(None, SAMPLE_RATE)
    rows: list[dict[str, Any]] = []
    for family in families:
        try:
            emulator = plugins.resolve("effect", f"{family}:tcn").create()
        except CheckpointError:
            rows.append({"family": family, "emulator": f"{family}:tcn",
                         "error": "no shipped weights"})
            continue
        kind = type(emulator)
        dsp = plugins.resolve("effect", kind.dsp_reference).create()
        data = EffectPairDataset(
            clips["test"], emulator.params, kind.reference("auto"),
            int(kind.training_seconds * SAMPLE_RATE), examples, seed=2024,
        )
        scores = compare_on(data, {kind.name: emulator, "bypass": None, dsp.name: dsp},
                            SAMPLE_RATE)
        for name, score in scores.items():
            rows.append({"family": family, "emulator": kind.name,
                         "reference": kind.reference_name("auto"), "dsp": dsp.name,
                         "output": name, "mrstft": score.mrstft, "snr_db": score.snr_db})
    return source, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--examples", type=int, default=32, help="held-out examples per effect")
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    plugins = get_plugins()
    source, rows = fidelity_rows(args.examples)
    print(f"held-out audio: test split of {source}; torch threads: {args.threads}\n")
    print("| emulator | reference | output | MR-STFT | SNR (dB) | CPU RTF |")
    print("| --- | --- | --- | --- | --- | --- |")
    speed: dict[str, float] = {}
    for row in rows:
        if "error" in row:
            print(f"| {row['emulator']} | - | {row['error']} | - | - | - |")
            continue
        name = row["output"]
        if name != "bypass" and name not in speed:
            speed[name] = real_time_factor(plugins.resolve("effect", name).create(),
                                           args.repeats)
        rtf = f"{speed[name]:.3f}" if name in speed else "-"
        print(f"| {row['emulator']} | {row['reference']} | {name} | {row['mrstft']:.3f} | "
              f"{row['snr_db']:.1f} | {rtf} |", flush=True)


if __name__ == "__main__":
    main()
