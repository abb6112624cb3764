"""Score only the decisions of consoles on the validation sources: level and pan error.

A quicker look than ``benchmarks/bench_generalisation.py``, which also renders
and scores every mix: here each console decides the gains and pans of every
whole validation song and they are compared with the engineer's faders and
pans, with the benchmark's own ``level err`` and ``pan err`` (the same
numbers as its table). Run from the repository root::

    python scripts/score_decisions.py LABEL=CHECKPOINT [LABEL=CHECKPOINT ...]

A system may also be a shipped console's spec (``gain+pan``).
"""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

import torch

from console.chain import EffectChain
from console.data.reference_decisions import reference_settings
from console.evaluation.systems import load_system
from console.streaming import decide_settings

ROOT = Path(__file__).resolve().parents[1]
GAIN_PAN = EffectChain.from_spec("gain+pan").layout


def benchmark():
    """``benchmarks/bench_generalisation.py`` as a module (it is a script, not a package)."""
    spec = importlib.util.spec_from_file_location(
        "bench_generalisation", ROOT / "benchmarks" / "bench_generalisation.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("systems", nargs="+", help="consoles as LABEL=CHECKPOINT or a spec")
    parser.add_argument("--data", type=Path, default=None,
                        help="the benchmark's data folder (default its own)")
    parser.add_argument("--sample-rate", type=int, default=22050)
    args = parser.parse_args()
    bench = benchmark()
    data = args.data or bench.DATA
    rate = args.sample_rate
    songs = [song for source in bench.SPLITS["validation"]
             for song in bench.scan_folder(data / "sessions" / source)]
    systems = [load_system(text) for text in args.systems]
    errors: dict[str, tuple[list[float], list[float]]] = {s.label: ([], []) for s in systems}
    for song in songs:
        loaded = bench.load_song(song, rate)
        engineer = reference_settings(song, GAIN_PAN)  # (K, 2): the engineer's gain and pan
        engineer_levels = bench.relative_levels(loaded.stems, engineer[:, 0], rate)
        engineer_pans = engineer[:, 1]
        for system in systems:
            with torch.no_grad():
                decided = decide_settings(system.model.eval(), song.stems, rate).settings
            column = {slot.effect_key: slot.index for slot in reversed(system.model.layout)}
            levels = bench.relative_levels(loaded.stems, decided[:, column["gain"]], rate)
            errors[system.label][0].append(float((levels - engineer_levels).abs().nanmean()))
            errors[system.label][1].append(
                bench.pan_error(decided[:, column["pan"]], engineer_pans))
    print(f"{len(songs)} validation songs ({', '.join(bench.SPLITS['validation'])})")
    print("| system | level err dB | pan err |\n|---|---|---|")
    for label, (levels, pans) in errors.items():
        print(f"| {label} | {sum(levels) / len(levels):.2f} | {sum(pans) / len(pans):.3f} |")


if __name__ == "__main__":
    main()
