"""Every emulator and DSP effect in one table, all rows from one run; then training.

Effects (``eq``, ``comp``, ``reverb``, each as ``:tcn`` emulator and ``:dsp``, and both
chains ``eq > comp > reverb``), each measured in a fresh process on one thread
(:mod:`isolated`): CPU seconds per track-second of a forward pass and of
forward+backward (gradients to the settings and the audio, emulator weights
frozen as ``console train`` freezes them), on mono tracks of ``--seconds`` at
44.1 kHz with random settings (``--tracks`` for DSP rows, as in
:mod:`bench_effects`; ``--emulator-tracks`` for rows with an emulator, which ran
fewer tracks when the reverb emulator was a TCN that kept every activation for its
backward); the memory a forward+backward adds at its peak (peak RSS minus RSS
before it); pedalboard's nearest equivalent (forward, CPU-s per track-second; its
reverb is Freeverb, the reverb emulator's reference, here built as
:func:`bench_effects.pedalboard_reverb` builds it, not through the reference's
measured mapping: Freeverb's cost does not depend on its settings), timed in turns
with ours, and the median of the round-by-round ratios; one more forward pass over
8 tracks x 10 s (bench_emulators' workload: longer tracks, other settings;
``reverb:dsp``'s cost per track-second grows with both, its FFTs with the decay);
and held-out fidelity against each emulator's reference (MR-STFT and SNR, as in
:mod:`bench_emulators`), for the emulator, the DSP effect and bypass.

Training: CPU seconds per step and peak RSS of ``console train``'s default
console (:mod:`bench_training`: mel-stats encoder at 22050 Hz, batch 4 songs x 8
stems x 3 s) for ``gain+pan``, the DSP full chain and the emulator full chain,
each in a fresh process whose new memory is capped at ``--memory-gb`` (the
issue's 8 GB target by default), so a chain that needs more fails alone instead
of pushing a shared machine out of memory.

Run: ``python benchmarks/bench_fast_effects.py [--tracks 2] [--seconds 3] [--examples 16]
[--train-steps 1] [--rst FILE]``.
"""

from __future__ import annotations

import argparse
import datetime
import statistics
import sys
import time
from typing import Any

import torch
from bench_effects import (
    SAMPLE_RATE,
    interleaved,
    pedalboard_forward,
    random_params,
    session_audio,
)
from isolated import current_rss_mb, peak_rss_mb, reset_peak_rss, run_isolated

FAMILIES = ("eq", "comp", "reverb")
EFFECT_ROWS = (
    *[(f"{family}:{variant}",) for family in FAMILIES for variant in ("tcn", "dsp")],
    ("eq:dsp", "comp:dsp", "reverb:dsp"),
    ("eq:tcn", "comp:tcn", "reverb:tcn"),
)
TRAIN_SPECS = (
    "gain+pan", "gain+eq:dsp+comp:dsp+reverb:dsp+pan", "gain+eq:tcn+comp:tcn+reverb:tcn+pan"
)


def effect_row(
    names: list[str], tracks: int, seconds: float, repeats: int,
    long_tracks: int = 8, long_seconds: float = 10.0,
) -> dict[str, Any]:
    """Speed and memory of ``names`` in series (in a fresh process: peak RSS is per process).

    ``forward_long`` is one forward pass over ``long_tracks`` x ``long_seconds``
    (bench_emulators' workload), per track-second as the others.
    """
    from console.plugins import get_plugins

    try:
        import pedalboard as pb
    except ImportError:
        pb = None
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
    forward()  # the warm-up calls measure the peaks
    forward_peak = peak_rss_mb() - before
    reset_peak_rss()
    forward_backward()
    both_peak = peak_rss_mb() - before
    calls = {"forward": forward, "forward_backward": forward_backward}
    reference = pedalboard_forward(pb, effects, params, audio)
    if reference is not None:
        reference()  # its warm-up; ours were the measured calls above
        calls["pedalboard"] = reference
    times = interleaved(calls, repeats, warm_up=False)
    track_seconds = tracks * seconds
    result = {name: statistics.median(t) / track_seconds for name, t in times.items()}
    result.setdefault("pedalboard", None)
    result["forward_x_pb"] = None if reference is None else statistics.median(
        ours / theirs for ours, theirs in zip(times["forward"], times["pedalboard"], strict=True)
    )
    long_audio = session_audio(long_tracks, long_seconds)
    long_params = [random_params(e, long_tracks, seed=i) for i, e in enumerate(effects)]
    start = time.process_time()
    with torch.no_grad():
        run(long_audio, long_params)
    result["forward_long"] = (time.process_time() - start) / (long_tracks * long_seconds)
    return {**result, "forward_peak_mb": forward_peak, "forward_backward_peak_mb": both_peak}


def training_row(spec: str, steps: int, sample_rate: int) -> dict[str, Any]:
    """CPU seconds per step of ``console train``'s default console for ``spec`` (fresh process)."""
    from bench_training import step_seconds

    return step_seconds(spec, steps, "mel-stats", {}, sample_rate)


def _fmt(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=16, help="mono tracks per DSP run")
    parser.add_argument("--emulator-tracks", type=int, default=2,
                        help="mono tracks per run with an emulator")
    parser.add_argument("--seconds", type=float, default=3.0, help="seconds per track")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls after the warm-up")
    parser.add_argument("--examples", type=int, default=16, help="held-out examples per family")
    parser.add_argument("--train-steps", type=int, default=1, help="timed steps after a warm-up")
    parser.add_argument("--train-sample-rate", type=int, default=22050)
    parser.add_argument("--memory-gb", type=float, default=8.0,
                        help="cap on the memory a training run may add (default %(default)g)")
    parser.add_argument("--effects-memory-gb", type=float, default=12.0)
    parser.add_argument("--rst", help="also write the tables as reStructuredText list-tables")
    args = parser.parse_args()
    torch.set_num_threads(1)

    from bench_emulators import fidelity_rows

    print(f"bench_fast_effects {datetime.date.today()}: torch {torch.__version__}, 1 thread, "
          f"CPU time; effects on {args.tracks} (DSP) or {args.emulator_tracks} (emulators) "
          f"tracks x {args.seconds:g} s at {SAMPLE_RATE} Hz; "
          f"command: python benchmarks/bench_fast_effects.py {' '.join(sys.argv[1:])}".rstrip(),
          flush=True)
    source, fidelity = fidelity_rows(args.examples)
    scores = {row["output"]: row for row in fidelity if "output" in row}
    bypass = {row["family"]: row for row in fidelity if row.get("output") == "bypass"}
    references = {row["family"]: row["reference"] for row in fidelity if "reference" in row}
    print(f"held-out audio: test split of {source}, {args.examples} examples per family",
          flush=True)

    effect_results = []
    for names in EFFECT_ROWS:
        label = "+".join(names)
        tracks = args.emulator_tracks if any(":tcn" in n for n in names) else args.tracks
        result = run_isolated("bench_fast_effects", "effect_row",
                              {"names": list(names), "tracks": tracks,
                               "seconds": args.seconds, "repeats": args.repeats},
                              memory_gb=args.effects_memory_gb)
        effect_results.append((label, names, tracks, result))
        print(f"  measured {label}: {result}", flush=True)

    header = ["effect", "tracks", "reference", "MR-STFT", "SNR dB", "bypass MR-STFT / SNR",
              "fwd CPU-s/track-s", "f+b CPU-s/track-s", "f+b / fwd", "f+b peak +MB",
              "pedalboard fwd", "fwd / pedalboard", "fwd at 8 x 10 s"]
    table: list[list[str]] = []
    for label, names, tracks, r in effect_results:
        family = names[0].split(":")[0] if len(names) == 1 else None
        score = scores.get(label)
        by = bypass.get(family) if family else None
        if "error" in r:
            stopped = (f"stopped: over the {args.effects_memory_gb:g} GB cap"
                       if r["error"].startswith("out of memory") else r["error"])
            timing = [stopped, "-", "-", "-", "-", "-", "-"]
        else:
            ratio = r["forward_x_pb"]
            timing = [_fmt(r["forward"], 4), _fmt(r["forward_backward"], 4),
                      _fmt(r["forward_backward"] / r["forward"], 1),
                      _fmt(r["forward_backward_peak_mb"], 0), _fmt(r["pedalboard"], 4),
                      _fmt(ratio, 2), _fmt(r["forward_long"], 4)]
        table.append([
            label, str(tracks), references.get(family, "-") if family else "-",
            _fmt(score["mrstft"]) if score else "-", _fmt(score["snr_db"], 1) if score else "-",
            f"{by['mrstft']:.3f} / {by['snr_db']:.1f}" if by else "-", *timing,
        ])

    train_header = ["console train default", "CPU-s / step", "steps / CPU-s", "wall s / step",
                    "peak RSS GB"]
    train_table: list[list[str]] = []
    for spec in TRAIN_SPECS:
        r = run_isolated("bench_fast_effects", "training_row",
                         {"spec": spec, "steps": args.train_steps,
                          "sample_rate": args.train_sample_rate}, memory_gb=args.memory_gb)
        print(f"  trained {spec}: {r}", flush=True)
        if "error" in r:
            stopped = (f"stopped: over the {args.memory_gb:g} GB cap"
                       if r["error"].startswith("out of memory") else r["error"])
            train_table.append([spec, stopped, "-", "-", f"{r['peak_rss_mb'] / 1024:.1f}"
                                if "peak_rss_mb" in r else "-"])
        else:
            train_table.append([spec, _fmt(r["cpu"], 2), _fmt(1 / r["cpu"], 3),
                                _fmt(r["wall"], 2), f"{r['peak_rss_mb'] / 1024:.2f}"])

    for head, rows in ((header, table), (train_header, train_table)):
        print("\n| " + " | ".join(head) + " |")
        print("|" + " --- |" * len(head))
        for row in rows:
            print("| " + " | ".join(row) + " |")
    if args.rst:
        with open(args.rst, "w") as f:
            for head, rows in ((header, table), (train_header, train_table)):
                f.write(".. list-table::\n   :header-rows: 1\n\n")
                for i, row in enumerate([head, *rows]):
                    cells = [c if c else " " for c in row]
                    if i:  # names of effects and chains as literals
                        cells[0] = f"``{cells[0]}``"
                    f.write("   * - " + "\n     - ".join(cells) + "\n")
                f.write("\n")


if __name__ == "__main__":
    main()
