"""Feed-forward compressor kernels: ballistics, level in dB, static gain curve.

The topology is the one of JUCE's ``dsp::Compressor`` (and so pedalboard's):
a peak detector smooths ``|x|`` in the linear domain with a one-pole filter
whose coefficient switches between attack (level rising) and release (level
falling); its output in dB goes through a static gain curve. Here the curve
also has a quadratic soft knee (Giannoulis, Massberg and Reiss, JAES 2012)
that becomes JUCE's hard knee at ``knee_db = 0``.

The switching filter is a sequential, data-dependent recursion, so it runs as
a compiled loop (numba) inside a custom autograd function. Its backward pass
is exact: with the attack/release decisions of the forward pass held fixed
(they are piecewise constant, so their derivative is zero almost everywhere)
the filter is linear and time-varying, and its adjoint is the same recursion
run backwards in time. ``benchmarks/comp_ballistics_candidates.py`` measures
this against a Python loop, a policy-iteration scan and torchlpc.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any, Literal

import numpy as np
import torch

from console.numbers import DB_PER_NEPER
from console_effects.functional.compiled import compile_loops

TimeConstant = Literal["exponential", "juce"]
TIME_CONSTANTS: tuple[str, ...] = ("exponential", "juce")

#: Levels are floored here before taking logs, so silence gives a finite dB value.
LEVEL_FLOOR_DB = -120.0
#: Below this knee width the quadratic section is empty; it only guards a division.
_KNEE_EPSILON_DB = 1e-6


def smoothing_coefficient(
    time_ms: torch.Tensor, sample_rate: float, time_constant: TimeConstant = "exponential"
) -> torch.Tensor:
    """Pole of a one-pole smoother with the given time in milliseconds.

    ``"exponential"``: the time constant proper, ``exp(-1 / (tau * fs))`` (the
    step response reaches 63 % after ``time_ms``). ``"juce"``: JUCE's
    ``BallisticsFilter`` convention, ``exp(-2 pi / (t * fs))``, which reacts
    2 pi times faster for the same number; choose it to match pedalboard.
    """
    return torch.exp(-time_scale(sample_rate, time_constant) / time_ms)


def time_scale(sample_rate: float, time_constant: TimeConstant = "exponential") -> float:
    """``s`` of :func:`smoothing_coefficient`'s pole ``exp(-s / time_ms)``."""
    if time_constant == "exponential":
        return 1000.0 / sample_rate
    if time_constant == "juce":
        return 2.0 * math.pi * 1000.0 / sample_rate
    raise ValueError(
        f"time_constant must be one of {TIME_CONSTANTS}, got {time_constant!r}."
    )


def _smooth_forward(
    level: np.ndarray, attack: np.ndarray, release: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Envelope ``(R, T)`` and the per-sample attack decision, from state zero."""
    rows, length = level.shape
    envelope = np.empty_like(level)
    attacking = np.empty(level.shape, dtype=np.bool_)
    for r in range(rows):
        previous = 0.0
        for n in range(length):
            value = level[r, n]
            rising = value > previous
            pole = attack[r] if rising else release[r]
            previous = value + pole * (previous - value)
            envelope[r, n] = previous
            attacking[r, n] = rising
    return envelope, attacking


def _smooth_backward(
    grad: np.ndarray,
    level: np.ndarray,
    envelope: np.ndarray,
    attacking: np.ndarray,
    attack: np.ndarray,
    release: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Adjoint of ``y[n] = u[n] + a[n] (y[n-1] - u[n])`` with the decisions held fixed."""
    rows, length = level.shape
    grad_level = np.empty_like(level)
    grad_attack = np.zeros(rows, dtype=level.dtype)
    grad_release = np.zeros(rows, dtype=level.dtype)
    for r in range(rows):
        attack_pole, release_pole = attack[r], release[r]
        attack_sum = 0.0
        release_sum = 0.0
        adjoint = 0.0
        next_pole = 0.0
        for n in range(length - 1, -1, -1):
            adjoint = grad[r, n] + next_pole * adjoint
            previous = envelope[r, n - 1] if n > 0 else 0.0
            if attacking[r, n]:
                pole = attack_pole
                attack_sum += adjoint * (previous - level[r, n])
            else:
                pole = release_pole
                release_sum += adjoint * (previous - level[r, n])
            grad_level[r, n] = adjoint * (1.0 - pole)
            next_pole = pole
        grad_attack[r] = attack_sum
        grad_release[r] = release_sum
    return grad_level, grad_attack, grad_release


@functools.cache
def compiled_kernels() -> tuple[Callable, Callable]:
    """The attack/release forward and adjoint loops, compiled on first use."""
    return compile_loops("comp:dsp", _smooth_forward, _smooth_backward)


def _to_numpy(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().contiguous().numpy()


def _smooth(
    level: torch.Tensor, attack: torch.Tensor, release: torch.Tensor
) -> tuple[torch.Tensor, np.ndarray]:
    """The compiled forward loop: the envelope (on ``level``'s device) and the decisions."""
    forward_loop, _ = compiled_kernels()
    envelope, attacking = forward_loop(_to_numpy(level), _to_numpy(attack), _to_numpy(release))
    return torch.from_numpy(envelope).to(level.device), attacking


class _AttackReleaseSmoother(torch.autograd.Function):
    """Switching one-pole smoother with an exact, compiled backward pass."""

    @staticmethod
    def forward(
        ctx: Any, level: torch.Tensor, attack: torch.Tensor, release: torch.Tensor
    ) -> torch.Tensor:
        envelope_t, attacking = _smooth(level, attack, release)
        ctx.save_for_backward(level, envelope_t, attack, release)
        ctx.attacking = attacking
        return envelope_t

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(
        ctx: Any, grad: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        level, envelope, attack, release = ctx.saved_tensors
        _, adjoint_loop = compiled_kernels()
        grads = adjoint_loop(
            _to_numpy(grad),
            _to_numpy(level),
            _to_numpy(envelope),
            ctx.attacking,
            _to_numpy(attack),
            _to_numpy(release),
        )
        grad_level, grad_attack, grad_release = (
            torch.from_numpy(g).to(level.device) for g in grads
        )
        return grad_level, grad_attack, grad_release


def attack_release_smoothing(
    level: torch.Tensor, attack_coef: torch.Tensor, release_coef: torch.Tensor,
    kept: dict[str, Any] | None = None,
) -> torch.Tensor:
    """Smooth a non-negative level ``(R, T)`` with per-row poles ``(R,)``, starting from zero.

    ``y[n] = u[n] + a (y[n-1] - u[n])`` with ``a = attack_coef`` where the
    level rises above the envelope and ``a = release_coef`` elsewhere, so both
    times shape the output. Differentiable with respect to all three inputs.
    CUDA tensors are processed on the CPU and returned to their device.

    With ``kept`` (for a caller with its own backward pass) nothing is recorded
    for autograd; the envelope, the attack decisions ``(R, T)`` and the poles
    ``(R,)`` go to ``kept``.
    """
    if level.dim() != 2:
        raise ValueError(f"level must be (rows, samples), got shape {tuple(level.shape)}.")
    rows = level.shape[0]
    attack = attack_coef.to(level.dtype).expand(rows).contiguous()
    release = release_coef.to(level.dtype).expand(rows).contiguous()
    if kept is None:
        return _AttackReleaseSmoother.apply(level, attack, release)
    envelope, attacking = _smooth(level, attack, release)
    kept.update(envelope=envelope, attacking=attacking, attack=attack, release=release)
    return envelope


def amplitude_to_db(amplitude: torch.Tensor, floor_db: float = LEVEL_FLOOR_DB) -> torch.Tensor:
    """``20 log10(amplitude)`` floored at ``floor_db``: finite for silence, gradient too."""
    return 20.0 * torch.log10(amplitude.clamp_min(10.0 ** (floor_db / 20.0)))


def _knee_terms(
    over_db: torch.Tensor, knee_db: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(into, above)``: dB into the knee ``clamp(over + knee/2, 0, knee)`` and dB past it.

    Written with two ReLUs rather than a clamp, so a knee of 0 has the same
    one-sided behaviour as any other (a clamp with ``max < min`` would not).
    """
    half_knee = 0.5 * knee_db
    above_knee = torch.relu(over_db - half_knee)
    into_knee = torch.relu(over_db + half_knee) - above_knee
    return into_knee, above_knee


def gain_computer_db(
    level_db: torch.Tensor, threshold_db: torch.Tensor, ratio: torch.Tensor, knee_db: torch.Tensor
) -> torch.Tensor:
    """Static gain change in dB (``<= 0``) for an input level, with a quadratic soft knee.

    Below ``threshold - knee/2`` nothing happens, above ``threshold + knee/2``
    the output rises ``1/ratio`` dB per input dB, and in between a parabola
    joins the two. ``knee_db = 0`` is an exact hard knee and ``ratio = 1`` is
    the identity, both with finite gradients for every argument.
    """
    slope = 1.0 / ratio - 1.0
    into_knee, above_knee = _knee_terms(level_db - threshold_db, knee_db)
    knee_part = into_knee.square() / (2.0 * knee_db.clamp_min(_KNEE_EPSILON_DB))
    return slope * (knee_part + above_knee)


def _envelope(
    x: torch.Tensor, attack_ms: torch.Tensor, release_ms: torch.Tensor, sample_rate: float,
    time_constant: TimeConstant, stereo_link: bool, kept: dict[str, Any] | None = None,
) -> torch.Tensor:
    """The detector's level ``(N, C', T)``: linked (``C' = 1``) or per channel."""
    n, c, t = x.shape
    rectified = x.abs()
    if stereo_link and c > 1:
        rectified = rectified.amax(dim=1, keepdim=True)
    channels = rectified.shape[1]
    attack = smoothing_coefficient(attack_ms, sample_rate, time_constant)
    release = smoothing_coefficient(release_ms, sample_rate, time_constant)
    return attack_release_smoothing(
        rectified.reshape(n * channels, t),
        attack.repeat_interleave(channels),
        release.repeat_interleave(channels),
        kept,
    ).reshape(n, channels, t)


def compressor_gain_db(
    x: torch.Tensor,
    threshold_db: torch.Tensor,
    ratio: torch.Tensor,
    attack_ms: torch.Tensor,
    release_ms: torch.Tensor,
    knee_db: torch.Tensor,
    sample_rate: float,
    time_constant: TimeConstant = "exponential",
    stereo_link: bool = True,
) -> torch.Tensor:
    """Time-varying gain in dB (``<= 0``) that compresses ``x`` ``(N, C, T)``.

    Parameters are ``(N,)``, one value per row. With ``stereo_link`` the
    detector follows the loudest channel and one gain ``(N, 1, T)`` serves all
    channels (the image does not wander); without it every channel has its own
    detector, ``(N, C, T)``, as in JUCE and pedalboard.
    """
    envelope = _envelope(x, attack_ms, release_ms, sample_rate, time_constant, stereo_link)

    def column(value: torch.Tensor) -> torch.Tensor:
        return value.reshape(x.shape[0], 1, 1).to(x.dtype)

    return gain_computer_db(
        amplitude_to_db(envelope), column(threshold_db), column(ratio), column(knee_db)
    )


def compressor_gain(
    x: torch.Tensor,
    threshold_db: torch.Tensor,
    ratio: torch.Tensor,
    attack_ms: torch.Tensor,
    release_ms: torch.Tensor,
    knee_db: torch.Tensor,
    makeup_db: torch.Tensor,
    sample_rate: float,
    time_constant: TimeConstant = "exponential",
    stereo_link: bool = True,
    kept: dict[str, Any] | None = None,
) -> torch.Tensor:
    """Linear gain ``(N, C', T)``, make-up included, that compresses ``x``.

    The same curve as ``db_to_amplitude(compressor_gain_db(...) + makeup_db)``
    with the per-row constants folded together, so each sample passes through
    a few fused operations and one exponential instead of a dozen passes.

    With ``kept``, the detector runs outside autograd (see
    :func:`attack_release_smoothing`) and what a hand-written backward pass
    needs goes to ``kept``: the envelope and decisions, ``over`` (level minus
    threshold in dB), the gain, and the per-row ``half_knee``, ``slope`` and
    ``knee_scale`` of the curve ``ln gain = makeup / DB_PER_NEPER + slope *
    above + knee_scale * into^2`` (:func:`_knee_terms`).
    """
    envelope = _envelope(x, attack_ms, release_ms, sample_rate, time_constant, stereo_link,
                         kept)

    def column(value: torch.Tensor) -> torch.Tensor:
        return value.reshape(x.shape[0], 1, 1).to(x.dtype)

    threshold, knee = column(threshold_db), column(knee_db)
    floor = 10.0 ** (LEVEL_FLOOR_DB / 20.0)
    # level - threshold in dB, as threshold + DB_PER_NEPER * ln(envelope) in one pass
    over = torch.add(-threshold, envelope.clamp_min(floor).log(), alpha=DB_PER_NEPER)
    into_knee, above_knee = _knee_terms(over, knee)
    # ln(gain) = (slope * (into^2 / (2 knee) + above) + makeup) / DB_PER_NEPER
    slope = (1.0 / column(ratio) - 1.0) / DB_PER_NEPER
    knee_scale = slope / (2.0 * knee.clamp_min(_KNEE_EPSILON_DB))
    log_gain = torch.addcmul(column(makeup_db) / DB_PER_NEPER, above_knee, slope)
    gain = torch.addcmul(log_gain, into_knee.square(), knee_scale).exp()
    if kept is not None:
        kept.update(over=over, gain=gain, half_knee=0.5 * knee, slope=slope,
                    knee_scale=knee_scale)
    return gain


#: Samples per slice of rows in :func:`compress`: about 1 MB of float32, so the dozen
#: element-wise passes of the gain computer run in a core's cache, not main memory.
ROW_CHUNK_SAMPLES = 1 << 18


def compress(
    x: torch.Tensor,
    threshold_db: torch.Tensor,
    ratio: torch.Tensor,
    attack_ms: torch.Tensor,
    release_ms: torch.Tensor,
    knee_db: torch.Tensor,
    makeup_db: torch.Tensor,
    sample_rate: float,
    time_constant: TimeConstant = "exponential",
    stereo_link: bool = True,
    kept: list[dict[str, Any]] | None = None,
) -> torch.Tensor:
    """``x`` ``(N, C, T)`` compressed, make-up included: ``x * compressor_gain(...)``.

    Rows are independent, so they are processed a slice at a time
    (:data:`ROW_CHUNK_SAMPLES`); on a shared CPU this halves the time of a
    batch whose tensors would otherwise each be larger than the cache. With
    ``kept``, one dict per slice goes there (``rows``: its first and last row
    + 1, and what :func:`compressor_gain` keeps); call it under
    ``torch.no_grad()``.
    """
    rows_per_chunk = max(1, ROW_CHUNK_SAMPLES // max(1, x.shape[1] * x.shape[2]))
    columns = (threshold_db, ratio, attack_ms, release_ms, knee_db, makeup_db)

    def rows(start: int, stop: int) -> torch.Tensor:
        chunk = x[start:stop]
        chunk_kept = None if kept is None else {"rows": (start, min(stop, x.shape[0]))}
        y = chunk * compressor_gain(chunk, *(c[start:stop] for c in columns), sample_rate,
                                    time_constant, stereo_link, chunk_kept)
        if kept is not None:
            kept.append(chunk_kept)
        return y

    if x.shape[0] <= rows_per_chunk:  # one slice (or none: an empty batch)
        return rows(0, x.shape[0])
    return torch.cat([rows(start, start + rows_per_chunk)
                      for start in range(0, x.shape[0], rows_per_chunk)])
