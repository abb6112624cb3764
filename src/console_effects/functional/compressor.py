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

With a detector per channel on a CPU, ``comp:dsp`` (through
:func:`compress_with_adjoint`) and ``comp:tcn`` differentiate the whole
compressor, static curve included, in one compiled loop
(:class:`ChannelCompressor`) instead of autograd's graph of some twenty passes
over the audio; the output is the same.
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


def static_curve_db(
    input_db: torch.Tensor,
    threshold_db: torch.Tensor,
    ratio: torch.Tensor,
    knee_db: torch.Tensor,
    makeup_db: torch.Tensor,
) -> torch.Tensor:
    """Output level ``(N, L)`` in dB for steady input levels ``(L,)``, make-up included.

    Settings are ``(N,)``, one compressor per row; what ``console plot comp`` draws.
    """
    level = input_db.to(ratio.dtype)[None, :]
    gain = gain_computer_db(level, threshold_db[:, None], ratio[:, None], knee_db[:, None])
    return level + gain + makeup_db[:, None]


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


#: Samples per block of the compiled backward pass: a block's temporaries stay in the cache.
_ADJOINT_BLOCK = 2048
#: Floating-point liberties of the backward loop: fused multiply-adds, and sums in any order
#: (so the per-sample pass vectorises); rounding differs by ~1e-16 relative. The forward
#: pass takes none.
_ADJOINT_FASTMATH = {"contract", "reassoc"}


# -- the compressor's backward pass on a CPU ----------------------------------------------------
#
# Shared by comp:dsp and comp:tcn. The forward pass is compress() (one detector per channel),
# run outside autograd, keeping the detector's envelope and attack decisions, the level over
# the threshold and the gain. The backward pass is one compiled loop per row, block by block
# backwards in time (as the EQ's): first, over the block, the static curve's chain rule per
# sample (a dozen multiply-adds and a division, no branches, so the compiler vectorises it)
# and the sums that are the curve's per-row constants' gradients; then the detector's adjoint
# recursion backwards through the block (_smooth_backward's, with the attack decisions held fixed).
# Autograd's graph of the same runs some twenty passes over the audio, each through memory.


def _compressor_adjoint(
    grad: np.ndarray, x: np.ndarray, gain: np.ndarray, over: np.ndarray, envelope: np.ndarray,
    attacking: np.ndarray, half_knee: np.ndarray, slope: np.ndarray, knee_scale: np.ndarray,
    attack: np.ndarray, release: np.ndarray, floor: Any, channels: int, grad_x: np.ndarray,
    sums: np.ndarray, block: int,
) -> None:
    """Gradient of ``y = x gain`` for rows ``(R, T)``, ``R / channels`` items of ``channels``.

    ``gain = exp(makeup / DB_PER_NEPER + slope above + knee_scale into^2)`` with
    ``above = relu(over - half_knee)``, ``into = relu(over + half_knee) - above``,
    ``over = DB_PER_NEPER ln max(envelope, floor) - threshold``; the envelope
    is ``|x|`` smoothed with pole ``attack[r]`` where ``attacking`` and
    ``release[r]`` elsewhere. ``half_knee``, ``slope``, ``knee_scale`` are per
    item, the poles per row. Writes the gradient of ``x`` to ``grad_x`` and
    adds to ``sums`` ``(items, 7)`` the sums over each item's samples of the
    gradient of ``ln gain``, ``slope``, ``knee_scale``, ``over``,
    ``half_knee``, the attack pole and the release pole. Where the floor
    clamps the envelope, or a knee term is at its kink, nothing passes (as
    through torch's ``clamp_min`` and ``relu``).
    """
    rows, length = x.shape
    direct = np.empty(block)  # the gradient of x through the gain applied to it
    sign = np.empty(block)  # of x: |x| is the detector's input
    grad_level = np.empty(block)  # the gradient of the envelope through the curve
    for r in range(rows):
        item = r // channels
        hk = half_knee[item]
        sl = np.float64(slope[item])
        ks = np.float64(knee_scale[item])
        pa = np.float64(attack[r])
        pr = np.float64(release[r])
        s_log = 0.0
        s_slope = 0.0
        s_scale = 0.0
        s_over = 0.0
        s_half = 0.0
        s_attack = 0.0
        s_release = 0.0
        adjoint = 0.0
        next_pole = 0.0
        end = length
        while end > 0:
            start = max(end - block, 0)
            count = end - start
            grad_b, x_b, gain_b = grad[r, start:end], x[r, start:end], gain[r, start:end]
            over_b, envelope_b = over[r, start:end], envelope[r, start:end]
            for i in range(count):
                xv = np.float64(x_b[i])
                d = np.float64(grad_b[i]) * np.float64(gain_b[i])
                direct[i] = d
                sign[i] = np.float64(xv > 0.0) - np.float64(xv < 0.0)
                h = d * xv  # the gradient of ln gain
                plus = over_b[i] + hk  # in the forward pass's precision: the same kinks
                minus = over_b[i] - hk
                on_plus = np.float64(plus > 0.0)
                on_minus = np.float64(minus > 0.0)
                above = on_minus * np.float64(minus)
                into = on_plus * np.float64(plus) - above
                s_log += h
                s_slope += h * above
                s_scale += h * into * into
                d_above = h * sl
                d_into = 2.0 * h * into * ks
                g_plus = on_plus * d_into
                g_minus = on_minus * (d_above - d_into)
                d_over = g_plus + g_minus
                s_over += d_over
                s_half += g_plus - g_minus
                level = envelope_b[i]
                grad_level[i] = (np.float64(level >= floor) * DB_PER_NEPER * d_over
                                 / np.float64(max(level, floor)))
            # The detector's adjoint: _smooth_backward's.
            for i in range(count - 1, -1, -1):
                n = start + i
                adjoint = grad_level[i] + next_pole * adjoint
                previous = np.float64(envelope[r, n - 1]) if n > 0 else 0.0
                if attacking[r, n]:
                    pole = pa
                    s_attack += adjoint * (previous - abs(np.float64(x[r, n])))
                else:
                    pole = pr
                    s_release += adjoint * (previous - abs(np.float64(x[r, n])))
                grad_x[r, n] = direct[i] + adjoint * (1.0 - pole) * sign[i]
                next_pole = pole
            end = start
        sums[item, 0] += s_log
        sums[item, 1] += s_slope
        sums[item, 2] += s_scale
        sums[item, 3] += s_over
        sums[item, 4] += s_half
        sums[item, 5] += s_attack
        sums[item, 6] += s_release


@functools.cache
def compiled_adjoint() -> Callable:
    """:func:`_compressor_adjoint`, compiled on first use."""
    compile_loops("comp:dsp")  # only its clear error if numba is missing
    import numba

    return numba.njit(cache=True, fastmath=_ADJOINT_FASTMATH, error_model="numpy")(
        _compressor_adjoint)


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


class ChannelCompressor(torch.autograd.Function):
    """:func:`compress` with a detector per channel, its backward pass one compiled loop.

    Takes ``x`` ``(N, C, T)`` (float32 or float64, on a CPU) and the six ``(N,)``
    settings in ``compress``'s order, then the sample rate and time constant;
    the output is ``compress``'s with ``stereo_link=False``, sample for sample.
    ``x``'s gradient comes in its dtype, each setting's in its own.
    """

    @staticmethod
    def forward(
        ctx: Any, x: torch.Tensor, threshold: torch.Tensor, ratio: torch.Tensor,
        attack_ms: torch.Tensor, release_ms: torch.Tensor, knee: torch.Tensor,
        makeup: torch.Tensor, sample_rate: float, time_constant: str,
    ) -> torch.Tensor:
        """:func:`compress` outside autograd, its intermediates kept for the backward pass."""
        chunks: list[dict[str, Any]] = []
        y = compress(x, threshold, ratio, attack_ms, release_ms, knee, makeup, sample_rate,
                     time_constant, stereo_link=False, kept=chunks)
        ctx.save_for_backward(x, ratio, attack_ms, release_ms, knee)
        ctx.chunks, ctx.scale = chunks, time_scale(sample_rate, time_constant)
        ctx.dtypes = [t.dtype for t in (threshold, ratio, attack_ms, release_ms, knee, makeup)]
        return y

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        """The gradients of ``x`` and the six settings by :func:`_compressor_adjoint`."""
        x, ratio, attack_ms, release_ms, knee = ctx.saved_tensors
        n, channels, length = x.shape
        grad_np = grad.contiguous().numpy()  # the input's dtype: no conversions
        x_np = x.detach().contiguous().numpy()
        grad_x = np.empty_like(x_np)
        sums = np.zeros((n, 7))
        floor = x_np.dtype.type(10.0 ** (LEVEL_FLOOR_DB / 20.0))  # compared as the clamp does
        adjoint = compiled_adjoint()
        for chunk in ctx.chunks:
            start, stop = chunk["rows"]
            shape = ((stop - start) * channels, length)
            adjoint(grad_np[start:stop].reshape(shape), x_np[start:stop].reshape(shape),
                    chunk["gain"].numpy().reshape(shape), chunk["over"].numpy().reshape(shape),
                    chunk["envelope"].numpy(), chunk["attacking"],
                    chunk["half_knee"].numpy().reshape(-1), chunk["slope"].numpy().reshape(-1),
                    chunk["knee_scale"].numpy().reshape(-1), chunk["attack"].numpy(),
                    chunk["release"].numpy(), floor, channels, grad_x[start:stop].reshape(shape),
                    sums[start:stop], _ADJOINT_BLOCK)
        # The settings from the per-item sums: over = ... - threshold, slope = (1 / ratio - 1)
        # / DB_PER_NEPER, knee_scale = slope / (2 max(knee, eps)) (the clamp passes knee >= eps),
        # half_knee = knee / 2, ln gain = makeup / DB_PER_NEPER + ..., poles exp(-scale / time).
        s_log, s_slope, s_scale, s_over, s_half, s_attack, s_release = sums.T
        ratio_np, knee_np = ratio.detach().double().numpy(), knee.detach().double().numpy()
        knee_clamped = np.maximum(knee_np, _KNEE_EPSILON_DB)
        slope = (1.0 / ratio_np - 1.0) / DB_PER_NEPER
        passed = (knee >= _KNEE_EPSILON_DB).numpy()  # compared in the knee's dtype, as torch does

        def time_gradient(total: np.ndarray, time_ms: torch.Tensor) -> np.ndarray:
            t = time_ms.detach().double().numpy()
            return total * np.exp(-ctx.scale / t) * ctx.scale / t**2

        grads = (
            -s_over,
            -(s_slope + s_scale / (2.0 * knee_clamped)) / (DB_PER_NEPER * ratio_np**2),
            time_gradient(s_attack, attack_ms),
            time_gradient(s_release, release_ms),
            0.5 * s_half - np.where(passed, s_scale * slope / (2.0 * knee_clamped**2), 0.0),
            s_log / DB_PER_NEPER,
        )
        return (
            torch.from_numpy(grad_x) if ctx.needs_input_grad[0] else None,
            *(torch.from_numpy(np.ascontiguousarray(g)).to(dtype) if needed else None
              for g, dtype, needed in zip(grads, ctx.dtypes, ctx.needs_input_grad[1:7],
                                          strict=True)),
            None, None,
        )


def compress_with_adjoint(
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
) -> torch.Tensor:
    """:func:`compress`, its backward pass the compiled :class:`ChannelCompressor`'s where it can.

    That is on a CPU, for float32 or float64 audio, with gradients wanted, and
    one detector per channel (no link, or one channel). The output is
    ``compress``'s sample for sample; elsewhere it is ``compress`` itself.
    """
    settings = (threshold_db, ratio, attack_ms, release_ms, knee_db, makeup_db)
    if (x.device.type == "cpu" and x.dtype in (torch.float32, torch.float64)
            and (not stereo_link or x.shape[1] == 1) and torch.is_grad_enabled()
            and (x.requires_grad or any(s.requires_grad for s in settings))
            and all(s.device.type == "cpu" for s in settings)):
        time_scale(sample_rate, time_constant)  # its error for an unknown time constant
        return ChannelCompressor.apply(x, *settings, sample_rate, time_constant)
    return compress(x, *settings, sample_rate, time_constant, stereo_link)
