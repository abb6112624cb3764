"""CPU time of every registered DSP effect and of the DSP chain, beside pedalboard's C++.

For 16 mono tracks x 3 s at 44.1 kHz with random settings drawn from the
ParamSpecs, times the effect's forward pass and forward+backward (gradients to
the parameters and the audio), and the nearest pedalboard plugin (forward only,
one board per track, as a DAW would run it), the three taking turns round by
round. Effects are found in the registry (every ``*:dsp`` name), so a new DSP
effect is measured without editing this.
The last row is the DSP chain ``eq:dsp`` > ``comp:dsp`` > ``reverb:dsp`` beside
pedalboard's chain (shelves and peak filters > Compressor + Gain > Reverb).

Times are CPU seconds of this process (``time.process_time``), on one intra-op
thread unless ``--threads`` says otherwise: wall time on a shared machine
measures the other jobs. The reverb's pedalboard counterpart is Freeverb, a
different reverb whose cost does not depend on the decay; ours grows with it.
Ratios compare with pedalboard from the same run.
Run: ``python benchmarks/bench_effects.py [--threads 1] [--repeats 9]``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from console.effect import Effect
from console.plugins import get_plugins
from console_effects.references import PEDALBOARD_BUILDERS

from timing import timed

SAMPLE_RATE = 44100
TRACKS, SECONDS = 16, 3.0
#: The DSP chain of the paper's full console, without the analytic gain and pan.
DSP_CHAIN = ("eq:dsp", "comp:dsp", "reverb:dsp")


def session_audio(tracks: int, seconds: float, seed: int = 1) -> torch.Tensor:
    """``(tracks, 1, T)`` noise at -20 dBFS RMS, the same for every effect of a run."""
    generator = torch.Generator().manual_seed(seed)
    return 0.1 * torch.randn(tracks, 1, int(seconds * SAMPLE_RATE), generator=generator)


def random_params(effect: Effect, tracks: int, seed: int = 0) -> torch.Tensor:
    """``(tracks, P)`` settings drawn from the effect's ParamSpecs with a fixed seed."""
    generator = torch.Generator().manual_seed(seed)
    return torch.stack([spec.sample(tracks, generator=generator) for spec in effect.params], 1)


def pedalboard_reverb(pb: Any, p: dict[str, float]) -> Any:
    """Freeverb, the nearest pedalboard has; its cost does not depend on the decay."""
    return pb.Pedalboard([
        pb.Reverb(
            room_size=min(p["decay_s"] / 8.0, 1.0), damping=1.0 - p["brightness"],
            wet_level=p["mix"], dry_level=1.0 - p["mix"], width=p["width"],
        )
    ])


#: Registry family -> builder of the equivalent pedalboard chain for one track's settings.
PEDALBOARD_EQUIVALENTS: dict[str, Callable[[Any, dict[str, float]], Any]] = {
    **PEDALBOARD_BUILDERS,
    "reverb": pedalboard_reverb,
}


def _rows(effect: Effect, params: torch.Tensor) -> list[dict[str, float]]:
    return [dict(zip([s.name for s in effect.params], row, strict=True))
            for row in params.double().tolist()]


def pedalboard_forward(
    pb: Any, effects: Sequence[Effect], params: Sequence[torch.Tensor], audio: torch.Tensor
) -> Callable[[], None] | None:
    """pedalboard's equivalent of ``effects`` in series, one board per track, as a call."""
    builders = [PEDALBOARD_EQUIVALENTS.get(e.name.split(":", 1)[0]) for e in effects]
    if pb is None or None in builders:
        return None
    per_effect = [[build(pb, row) for row in _rows(e, p)]
                  for build, e, p in zip(builders, effects, params, strict=True)]
    boards = [pb.Pedalboard(list(chain)) for chain in zip(*per_effect, strict=True)]
    tracks = [np.ascontiguousarray(a) for a in audio.numpy()]

    def forward() -> None:
        for board, track in zip(boards, tracks, strict=True):
            board(track, SAMPLE_RATE, reset=True)

    return forward


def pedalboard_time(
    pb: Any, effects: Sequence[Effect], params: Sequence[torch.Tensor], audio: torch.Tensor,
    repeats: int,
) -> float | None:
    """CPU time of pedalboard's equivalent of ``effects`` in series, one board per track."""
    forward = pedalboard_forward(pb, effects, params, audio)
    return None if forward is None else timed(forward, repeats, clock=time.process_time)


def interleaved(
    calls: dict[str, Callable[[], object]], repeats: int, warm_up: bool = True
) -> dict[str, list[float]]:
    """CPU times of each call, taking turns round by round (after one warm-up each).

    A shared machine's load drifts; in turns every call meets the same drift, so
    ratios taken round by round compare like with like.
    """
    for call in calls.values() if warm_up else ():
        call()
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(repeats):
        for name, call in calls.items():
            start = time.process_time()
            call()
            times[name].append(time.process_time() - start)
    return times


def measure(
    names: Sequence[str], audio: torch.Tensor, repeats: int, pb: Any
) -> dict[str, float | None]:
    """Median CPU times of the named effects in series and of pedalboard's equivalent,
    measured in turns, and the median of the round-by-round ratios."""
    effects = [get_plugins().resolve("effect", name).create() for name in names]
    params = [random_params(e, audio.shape[0], seed=i) for i, e in enumerate(effects)]

    def run(x: torch.Tensor, ps: Sequence[torch.Tensor]) -> torch.Tensor:
        for effect, p in zip(effects, ps, strict=True):
            x = effect(x, p, SAMPLE_RATE)
        return x

    def forward() -> None:
        with torch.no_grad():
            run(audio, params)

    def forward_backward() -> None:
        ps = [p.clone().requires_grad_(True) for p in params]
        x = audio.clone().requires_grad_(True)
        run(x, ps).square().mean().backward()

    calls: dict[str, Callable[[], object]] = {
        "forward": forward, "forward_backward": forward_backward,
    }
    reference = pedalboard_forward(pb, effects, params, audio)
    if reference is not None:
        calls["pedalboard"] = reference
    times = interleaved(calls, repeats)
    result: dict[str, float | None] = {name: statistics.median(t) for name, t in times.items()}
    result.setdefault("pedalboard", None)
    for name in ("forward", "forward_backward"):
        result[f"{name}_x_pb"] = None if reference is None else statistics.median(
            ours / theirs for ours, theirs in zip(times[name], times["pedalboard"], strict=True)
        )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--tracks", type=int, default=TRACKS)
    parser.add_argument("--seconds", type=float, default=SECONDS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    try:
        import pedalboard as pb
    except ImportError:
        pb = None
    audio = session_audio(args.tracks, args.seconds)
    names = sorted(n for n in get_plugins().registry("effect") if n.endswith(":dsp"))
    print(f"{args.tracks} tracks x {args.seconds:g} s at {SAMPLE_RATE} Hz, torch "
          f"{torch.__version__}, {torch.get_num_threads()} threads, pedalboard "
          f"{getattr(pb, '__version__', 'not installed')}, CPU time, median of {args.repeats}")
    print("RTF = CPU seconds / seconds of session audio; x pb = median over rounds of our time / "
          "pedalboard's forward time in the same round")
    print(f"{'effect':<32} {'fwd s':>7} {'fwd RTF':>8} {'fwd+bwd s':>10} {'f+b/fwd':>8} "
          f"{'pb fwd s':>9} {'fwd x pb':>9} {'f+b x pb':>9}")
    rows = [(name, (name,)) for name in names] + [("+".join(DSP_CHAIN), DSP_CHAIN)]
    for label, chain in rows:
        r = measure(chain, audio, args.repeats, pb)
        fwd, both, ref = r["forward"], r["forward_backward"], r["pedalboard"]
        ref_text = ("-", "-", "-") if ref is None else (
            f"{ref:.3f}", f"{r['forward_x_pb']:.2f}", f"{r['forward_backward_x_pb']:.2f}"
        )
        print(f"{label:<32} {fwd:7.3f} {fwd / args.seconds:8.4f} {both:10.3f} "
              f"{both / fwd:8.2f} {ref_text[0]:>9} {ref_text[1]:>9} {ref_text[2]:>9}",
              flush=True)


if __name__ == "__main__":
    main()
