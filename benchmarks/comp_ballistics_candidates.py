"""Candidates for the compressor's attack/release smoother, timed on 16 tracks x 3 s at 44.1 kHz.

The smoother ``y[n] = u[n] + a[n] (y[n-1] - u[n])`` switches ``a[n]`` between the
attack and release poles depending on whether ``u[n] > y[n-1]``: sequential and
data-dependent, so no LTI filter applies. Candidates, each exact:

* ``python loop``: a per-sample torch loop under autograd (timed on a slice,
  scaled up linearly).
* ``policy iteration + torchlpc``: guess the decisions, filter with torchlpc's
  time-varying recursion, re-decide from the result, repeat until nothing changes
  (the envelope rises monotonically to the exact one), then one differentiable pass.
* ``numba decisions + torchlpc``: decisions from a compiled loop, then torchlpc's
  differentiable time-varying recursion.
* ``numba autograd function`` (the one used): compiled forward loop and compiled
  adjoint loop in a custom ``torch.autograd.Function``.

Run: ``.venv/bin/python benchmarks/comp_ballistics_candidates.py``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path

import torch

from console_effects.functional.compressor import (
    attack_release_smoothing,
    compiled_kernels,
    smoothing_coefficient,
)

SAMPLE_RATE = 44100
TRACKS = 16
SECONDS = 3.0
ATTACK_MS, RELEASE_MS = 10.0, 100.0
DRUMS = Path("/usr/share/sonic-pi/samples/loop_amen_full.flac")


def test_signal() -> tuple[torch.Tensor, str]:
    """``(TRACKS, T)`` rectified levels: a real drum loop if installed, else bursts of noise."""
    length = int(SECONDS * SAMPLE_RATE)
    if DRUMS.exists():
        import soundfile as sf

        audio, _ = sf.read(DRUMS, dtype="float32", always_2d=True)
        mono = torch.from_numpy(audio.mean(axis=1))[:length]
        rows = [torch.roll(mono, 2205 * k) * (0.5 + 0.05 * k) for k in range(TRACKS)]
        return torch.stack(rows).abs(), "sonic-pi loop_amen_full.flac"
    g = torch.Generator().manual_seed(0)
    bursts = torch.rand(TRACKS, length // 4410 + 1, generator=g).repeat_interleave(4410, -1)
    noise = torch.randn(TRACKS, bursts.shape[-1], generator=g)
    return (bursts * noise)[:, :length].abs(), "synthetic bursts"


def python_loop(level: torch.Tensor, attack: torch.Tensor, release: torch.Tensor) -> torch.Tensor:
    previous = level.new_zeros(level.shape[0])
    out = []
    for n in range(level.shape[-1]):
        value = level[:, n]
        pole = torch.where(value > previous, attack, release)
        previous = value + pole * (previous - value)
        out.append(previous)
    return torch.stack(out, -1)


def torchlpc_pass(level, attack, release, attacking):
    import torchlpc

    pole = torch.where(attacking, attack[:, None], release[:, None])
    return torchlpc.sample_wise_lpc((1.0 - pole) * level, -pole[..., None])


def policy_iteration_torchlpc(level, attack, release):
    attacking = torch.zeros_like(level, dtype=torch.bool)
    with torch.no_grad():
        for _ in range(1000):
            envelope = torchlpc_pass(level, attack, release, attacking)
            decided = level > torch.nn.functional.pad(envelope[:, :-1], (1, 0))
            if torch.equal(decided, attacking):
                break
            attacking = decided
    return torchlpc_pass(level, attack, release, attacking)


def numba_decisions_torchlpc(level, attack, release):
    _, attacking = compiled_kernels()[0](
        level.detach().numpy(), attack.detach().numpy(), release.detach().numpy()
    )
    return torchlpc_pass(level, attack, release, torch.from_numpy(attacking))


def timed(fn: Callable[[], torch.Tensor], backward: bool, repeats: int) -> float:
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        if backward:
            out.square().sum().backward()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    level, source = test_signal()
    attack = smoothing_coefficient(torch.full((TRACKS,), ATTACK_MS), SAMPLE_RATE)
    release = smoothing_coefficient(torch.full((TRACKS,), RELEASE_MS), SAMPLE_RATE)
    audio_s = TRACKS * SECONDS
    print(f"{TRACKS} tracks x {SECONDS:g} s at {SAMPLE_RATE} Hz ({source}), float32, "
          f"{torch.get_num_threads()} torch threads; best of repeats, seconds of CPU wall time")
    reference = attack_release_smoothing(level, attack, release)

    candidates: list[tuple[str, Callable, int, float]] = [
        ("numba autograd function (used)", attack_release_smoothing, 5, 1.0),
    ]
    try:
        import torchlpc  # noqa: F401

        candidates += [
            ("numba decisions + torchlpc", numba_decisions_torchlpc, 3, 1.0),
            ("policy iteration + torchlpc", policy_iteration_torchlpc, 1, 1.0),
        ]
    except ImportError:
        print("torchlpc is not installed: its candidates are skipped")
    slice_len = 4410
    scale = level.shape[-1] / slice_len
    candidates.append(("python loop (0.1 s slice, scaled)", python_loop, 1, scale))

    header = f"{'candidate':38s} {'forward':>9s} {'fwd+bwd':>9s} {'RTF fwd+bwd':>12s}"
    print(f"{header} {'max |err|':>10s}")
    for label, fn, repeats, scale in candidates:
        part = level if scale == 1.0 else level[:, :slice_len]
        a = attack.clone().requires_grad_()
        r = release.clone().requires_grad_()
        u = part.clone().requires_grad_()
        with torch.no_grad():
            err = (fn(part, attack, release) - reference[:, : part.shape[-1]]).abs().max().item()
        forward = timed(lambda fn=fn, x=part: fn(x, attack, release), False, repeats) * scale
        both = timed(lambda fn=fn, u=u, a=a, r=r: fn(u, a, r), True, repeats) * scale
        print(f"{label:38s} {forward:9.4f} {both:9.4f} {both / audio_s:12.2e} {err:10.1e}")


if __name__ == "__main__":
    main()
