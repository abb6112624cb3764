"""One table, one run: per effect family, the DSP effect, the grey-box and the paper's TCN.

For ``eq``, ``comp`` and ``reverb``, each as ``:dsp``, ``:greybox`` (this project's
emulators, the defaults) and ``:tcn`` (the paper's conditioned TCNs), and the three
chains ``eq > comp > reverb`` of each kind:

- **Fidelity** against the emulators' reference (pedalboard's EQ, compressor and
  Freeverb where pedalboard is installed; :mod:`console_effects.references`): mean
  MR-STFT error (auraloss' default ``MultiResolutionSTFTLoss``, lower is better) and
  SNR, with bypass (the unprocessed input) beside them, on the *validation* files by
  default (:mod:`console.training.emulator_report`: the same pairs the training
  script scores). The reverb is scored on its wet signal alone (``mix`` 1 for
  every row, bypass included). ``--final`` scores the test files instead; each
  such run is appended to ``benchmarks/results/emulator-test-uses.log``, and the
  test files are for the one table that ships, not for choosing.
- **CPU cost**, each row in a fresh process on one thread (:mod:`isolated`): CPU
  seconds per track-second of a forward pass and of forward+backward (gradients
  to the settings and the audio, emulator weights frozen as ``console train``
  freezes them) on ``--tracks`` mono tracks x ``--seconds`` at 44.1 kHz with random
  settings, the two taken in turns (medians); the memory a forward+backward adds
  at its peak; one more forward pass over 8 tracks x 10 s.
- **Training**: CPU seconds per step and peak memory of ``console train``'s default
  console (:mod:`bench_training`: mel-stats encoder at 22050 Hz, batch 4 songs x 8
  stems x 3 s) through ``gain+pan`` and each chain, in a fresh process whose new
  memory is capped at ``--memory-gb`` (8 by default: the issue's limit).

Run: ``python benchmarks/bench_fast_effects.py [--examples 32] [--rst FILE] [--final]``.
"""

from __future__ import annotations

import argparse
import datetime
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch
from bench_effects import SAMPLE_RATE, interleaved, random_params, session_audio
from isolated import current_rss_mb, peak_rss_mb, reset_peak_rss, run_isolated
from tables import markdown_table, rst_list_table

FAMILIES = ("eq", "comp", "reverb")
VARIANTS = ("dsp", "greybox", "tcn")
EFFECT_ROWS = (
    *[(f"{family}:{variant}",) for family in FAMILIES for variant in VARIANTS],
    *[tuple(f"{family}:{variant}" for family in FAMILIES) for variant in VARIANTS],
)
TRAIN_SPECS = ("gain+pan", *[
    "gain+" + "+".join(f"{family}:{variant}" for family in FAMILIES) + "+pan"
    for variant in VARIANTS
])
TEST_LOG = Path(__file__).resolve().parent / "results" / "emulator-test-uses.log"


def effect_row(
    names: list[str], tracks: int, seconds: float, repeats: int,
    long_tracks: int = 8, long_seconds: float = 10.0,
) -> dict[str, Any]:
    """Speed and memory of ``names`` in series (in a fresh process: peak RSS is per process)."""
    from console.plugins import get_plugins

    effects = [get_plugins().resolve("effect", name).create().requires_grad_(False)
               for name in names]
    audio = session_audio(tracks, seconds)
    params = [random_params(e, tracks, seed=i) for i, e in enumerate(effects)]

    def run(x: torch.Tensor, ps: list[torch.Tensor]) -> torch.Tensor:
        for effect, p in zip(effects, ps, strict=True):
            x = effect(x, p, SAMPLE_RATE)
        return x

    def forward(x: torch.Tensor = audio) -> None:
        with torch.no_grad():
            run(x, params)

    def forward_backward(x: torch.Tensor = audio) -> None:
        ps = [p.clone().requires_grad_(True) for p in params]
        run(x.clone().requires_grad_(True), ps).square().mean().backward()

    # One-time costs (compiled loops loaded, caches filled) on 0.1 s, before the baseline.
    forward(audio[..., : SAMPLE_RATE // 10])
    forward_backward(audio[..., : SAMPLE_RATE // 10])
    before = current_rss_mb()
    reset_peak_rss()  # else the peak of loading the effects would count
    forward_backward()  # the warm-up call measures the peak
    both_peak = peak_rss_mb() - before
    times = interleaved({"forward": forward, "forward_backward": forward_backward}, repeats,
                        warm_up=False)
    track_seconds = tracks * seconds
    result = {name: statistics.median(t) / track_seconds for name, t in times.items()}
    result["ratio"] = statistics.median(
        b / f for f, b in zip(times["forward"], times["forward_backward"], strict=True))
    long_audio = session_audio(long_tracks, long_seconds)
    long_params = [random_params(e, long_tracks, seed=i) for i, e in enumerate(effects)]
    start = time.process_time()
    with torch.no_grad():
        run(long_audio, long_params)
    result["forward_long"] = (time.process_time() - start) / (long_tracks * long_seconds)
    return {**result, "forward_backward_peak_mb": both_peak}


def training_row(spec: str, steps: int, sample_rate: int) -> dict[str, Any]:
    """CPU seconds per step of ``console train``'s default console for ``spec`` (fresh process)."""
    from bench_training import step_seconds

    return step_seconds(spec, steps, "mel-stats", {}, sample_rate)


def fidelity_rows(split: str, examples: int) -> tuple[str, dict[str, dict[str, float]]]:
    """Per family: every variant and bypass on the split's pairs (the TCN's, wet-only reverb)."""
    from console.plugins import get_plugins
    from console.training.emulator_data import split_clips
    from console.training.emulator_report import fidelity, held_out_pairs

    plugins = get_plugins()
    clips, source = split_clips(None, SAMPLE_RATE)
    rows: dict[str, dict[str, float]] = {}
    for family in FAMILIES:
        emulator_class = plugins.resolve("effect", f"{family}:tcn").factory
        data, _ = held_out_pairs(emulator_class, split, examples, clips=clips)
        candidates = {f"{family}:{v}": plugins.resolve("effect", f"{family}:{v}").create()
                      for v in VARIANTS}
        scores = fidelity({**candidates, f"{family} bypass": None}, data)
        reference = emulator_class.reference_name("auto")
        for name, score in scores.items():
            rows[name] = {"mrstft": score.mrstft, "snr_db": score.snr_db,
                          "reference": reference}
        print(f"  scored {family} on {split}: "
              + ", ".join(f"{k} {v.mrstft:.3f}" for k, v in scores.items()), flush=True)
    return source, rows


def _fmt(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=2, help="mono tracks per timed call")
    parser.add_argument("--seconds", type=float, default=3.0, help="seconds per track")
    parser.add_argument("--repeats", type=int, default=5, help="timed calls of each, in turns")
    parser.add_argument("--examples", type=int, default=32, help="held-out examples per family")
    parser.add_argument("--final", action="store_true",
                        help="score the test files (logged) instead of the validation files")
    parser.add_argument("--train-steps", type=int, default=1, help="timed steps after a warm-up")
    parser.add_argument("--train-sample-rate", type=int, default=22050)
    parser.add_argument("--memory-gb", type=float, default=8.0,
                        help="cap on the memory a training run may add (default %(default)g)")
    parser.add_argument("--effects-memory-gb", type=float, default=12.0)
    parser.add_argument("--no-training", action="store_true", help="leave out the training rows")
    parser.add_argument("--rst", help="also write the tables as reStructuredText list-tables")
    args = parser.parse_args()
    torch.set_num_threads(1)
    split = "test" if args.final else "validation"
    command = f"python benchmarks/bench_fast_effects.py {' '.join(sys.argv[1:])}".rstrip()
    print(f"bench_fast_effects {datetime.date.today()}: torch {torch.__version__}, 1 thread, "
          f"CPU time; effects on {args.tracks} tracks x {args.seconds:g} s at {SAMPLE_RATE} Hz; "
          f"fidelity on the {split} files; command: {command}", flush=True)
    if args.final:
        from console.training.emulator_report import log_test_use

        log_test_use(TEST_LOG, command)
    source, scores = fidelity_rows(split, args.examples)
    print(f"held-out audio: {split} split of {source}, {args.examples} examples per family "
          f"(reverb: wet signal alone)", flush=True)

    results = []
    for names in EFFECT_ROWS:
        result = run_isolated("bench_fast_effects", "effect_row",
                              {"names": list(names), "tracks": args.tracks,
                               "seconds": args.seconds, "repeats": args.repeats},
                              memory_gb=args.effects_memory_gb)
        results.append((names, result))
        print(f"  measured {'+'.join(names)}: {result}", flush=True)

    header = ["effect", "reference", f"MR-STFT ({split})", "SNR dB", "bypass MR-STFT",
              "x bypass", "fwd CPU-s/track-s", "f+b CPU-s/track-s", "f+b / fwd",
              "f+b peak +MB", "fwd at 8 x 10 s"]
    table: list[list[str]] = []
    for names, r in results:
        label = "+".join(names)
        score = scores.get(label) if len(names) == 1 else None
        bypass = scores.get(f"{label.split(':')[0]} bypass") if score else None
        if "error" in r:
            timing = [r["error"], "-", "-", "-", "-"]
        else:
            timing = [_fmt(r["forward"], 4), _fmt(r["forward_backward"], 4),
                      _fmt(r["ratio"], 1), _fmt(r["forward_backward_peak_mb"], 0),
                      _fmt(r["forward_long"], 4)]
        table.append([
            label, score["reference"] if score else "-",
            _fmt(score["mrstft"]) if score else "-", _fmt(score["snr_db"], 1) if score else "-",
            _fmt(bypass["mrstft"]) if bypass else "-",
            _fmt(score["mrstft"] / bypass["mrstft"], 2) if score else "-", *timing,
        ])

    train_header = ["console train default", "CPU-s / step", "wall s / step", "peak RSS GB"]
    train_table: list[list[str]] = []
    for spec in () if args.no_training else TRAIN_SPECS:
        r = run_isolated("bench_fast_effects", "training_row",
                         {"spec": spec, "steps": args.train_steps,
                          "sample_rate": args.train_sample_rate}, memory_gb=args.memory_gb)
        print(f"  trained {spec}: {r}", flush=True)
        if "error" in r:
            stopped = (f"stopped: over the {args.memory_gb:g} GB cap"
                       if r["error"].startswith("out of memory") else r["error"])
            train_table.append([spec, stopped, "-", f"{r['peak_rss_mb'] / 1024:.1f}"
                                if "peak_rss_mb" in r else "-"])
        else:
            train_table.append([spec, _fmt(r["cpu"], 2), _fmt(r["wall"], 2),
                                f"{r['peak_rss_mb'] / 1024:.2f}"])

    tables = [(header, table)] + ([(train_header, train_table)] if train_table else [])
    for head, rows in tables:
        print("\n" + markdown_table(head, rows))
    if args.rst:
        with open(args.rst, "w") as f:
            f.write("\n".join(rst_list_table(head, rows) for head, rows in tables) + "\n")


if __name__ == "__main__":
    main()
