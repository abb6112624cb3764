"""CPU real-time factor of every registered DSP effect, beside pedalboard.

For 16 mono tracks x 3 s at 44.1 kHz with random settings drawn from the
ParamSpecs, times the effect's forward pass and forward+backward (gradients to
the parameters and the audio), and the nearest pedalboard plugin (forward only,
one board per track, as a DAW would run it). Effects are found in the registry
(every ``*:dsp`` name), so a new DSP effect is measured without editing this.

RTF = processing time / 3 s: below 1, a 16-track session runs faster than real
time. Ratios compare with pedalboard from the same run.
Run: ``python benchmarks/bench_effects.py [--threads 2] [--repeats 3]``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from console.plugins import get_plugins
from console_effects.references import PEDALBOARD_BUILDERS

from timing import timed

SAMPLE_RATE = 44100
TRACKS, SECONDS = 16, 3.0


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


def measure(name: str, audio: torch.Tensor, repeats: int, pb: Any) -> dict[str, float | None]:
    effect = get_plugins().resolve("effect", name).create()
    generator = torch.Generator().manual_seed(0)
    params = torch.stack(
        [spec.sample(TRACKS, generator=generator) for spec in effect.params], dim=1
    )

    def forward() -> None:
        with torch.no_grad():
            effect(audio, params, SAMPLE_RATE)

    def forward_backward() -> None:
        p = params.clone().requires_grad_(True)
        x = audio.clone().requires_grad_(True)
        effect(x, p, SAMPLE_RATE).square().mean().backward()

    result: dict[str, float | None] = {
        "forward": timed(forward, repeats),
        "forward_backward": timed(forward_backward, repeats),
        "pedalboard": None,
    }
    build = PEDALBOARD_EQUIVALENTS.get(name.split(":", 1)[0])
    if pb is not None and build is not None:
        rows = [dict(zip([s.name for s in effect.params], row, strict=True))
                for row in params.double().tolist()]
        boards = [build(pb, row) for row in rows]
        tracks = [np.ascontiguousarray(a) for a in audio.numpy()]

        def pedalboard_forward() -> None:
            for board, track in zip(boards, tracks, strict=True):
                board(track, SAMPLE_RATE, reset=True)

        result["pedalboard"] = timed(pedalboard_forward, repeats)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    try:
        import pedalboard as pb
    except ImportError:
        pb = None
    generator = torch.Generator().manual_seed(1)
    audio = 0.1 * torch.randn(TRACKS, 1, int(SECONDS * SAMPLE_RATE), generator=generator)
    names = sorted(n for n in get_plugins().registry("effect") if n.endswith(":dsp"))
    print(f"{TRACKS} tracks x {SECONDS:g} s at {SAMPLE_RATE} Hz, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, pedalboard "
          f"{getattr(pb, '__version__', 'not installed')}, median of {args.repeats}")
    print("RTF = seconds / 3 s of session audio; x pb = our time / pedalboard forward time")
    header = (f"{'effect':<12} {'fwd s':>8} {'fwd RTF':>8} {'fwd+bwd s':>10} {'f+b RTF':>8} "
              f"{'pb fwd s':>9} {'fwd x pb':>9} {'f+b x pb':>9}")
    print(header)
    for name in names:
        r = measure(name, audio, args.repeats, pb)
        fwd, both, ref = r["forward"], r["forward_backward"], r["pedalboard"]
        ref_text = ("-", "-", "-") if ref is None else (
            f"{ref:.3f}", f"{fwd / ref:.2f}", f"{both / ref:.2f}"
        )
        print(f"{name:<12} {fwd:8.3f} {fwd / SECONDS:8.4f} {both:10.3f} {both / SECONDS:8.4f} "
              f"{ref_text[0]:>9} {ref_text[1]:>9} {ref_text[2]:>9}", flush=True)


if __name__ == "__main__":
    main()
