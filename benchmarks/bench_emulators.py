"""Fidelity and CPU speed of the emulators, beside bypass and the DSP effects (a quick look).

For every family, the grey-box (``:greybox``), the paper's TCN (``:tcn``), the DSP
effect and bypass: MR-STFT error (auraloss' default ``MultiResolutionSTFTLoss``,
lower is better) and SNR (dB, higher is better) against the emulators' reference on
the *validation* files (the reverb's wet signal alone), then the CPU real-time
factor of a forward pass over 8 tracks x 10 s at 44.1 kHz (CPU seconds of this
process / 10 s, on ``--threads`` threads). ``--final`` scores the test files
instead, and logs the use in ``benchmarks/results/emulator-test-uses.log``.
``benchmarks/bench_fast_effects.py`` is the one table in the docs.

Run: ``python benchmarks/bench_emulators.py [--threads 1] [--examples 32] [--final]``.
"""

from __future__ import annotations

import argparse
import sys
import time

import torch

from console.plugins import get_plugins
from console.training.emulator_data import split_clips
from console.training.emulator_report import fidelity, held_out_pairs, log_test_use

SAMPLE_RATE = 44100
TRACKS, SECONDS = 8, 10.0
FAMILIES = ("eq", "comp", "reverb")
VARIANTS = ("greybox", "tcn", "dsp")


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--examples", type=int, default=32, help="held-out examples per family")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--final", action="store_true",
                        help="score the test files (logged) instead of the validation files")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    split = "test" if args.final else "validation"
    if args.final:
        from bench_fast_effects import TEST_LOG

        log_test_use(TEST_LOG, f"python benchmarks/bench_emulators.py {' '.join(sys.argv[1:])}")
    plugins = get_plugins()
    clips, source = split_clips(None, SAMPLE_RATE)
    print(f"held-out audio: {split} split of {source}; torch threads: {args.threads}\n")
    print("| family | output | MR-STFT | SNR (dB) | CPU RTF |")
    print("| --- | --- | --- | --- | --- |")
    for family in FAMILIES:
        tcn = plugins.resolve("effect", f"{family}:tcn").factory
        data, _ = held_out_pairs(tcn, split, args.examples, clips=clips)
        effects = {f"{family}:{v}": plugins.resolve("effect", f"{family}:{v}").create()
                   for v in VARIANTS}
        scores = fidelity({**effects, "bypass": None}, data)
        for name, score in scores.items():
            rtf = (f"{real_time_factor(effects[name], args.repeats):.3f}" if name in effects
                   else "-")
            print(f"| {family} | {name} | {score.mrstft:.3f} | {score.snr_db:.1f} | {rtf} |",
                  flush=True)


if __name__ == "__main__":
    main()
