"""Schroeder-Moorer reverberator kernels in Freeverb's topology, with an exact adjoint.

Freeverb (Jezar at Dreamworks, 2000, public domain; JUCE's ``juce::Reverb`` and so
pedalboard's ``Reverb``) feeds the mono sum of its input into eight parallel
feedback combs per channel, each with a one-pole low-pass filter in its loop,
then through four Schroeder "all-pass" sections in series. Per comb ``k``::

    y[n] = t[n - D_k]                              (the comb's delay line)
    l[n] = (1 - d_k) y[n] + d_k l[n - 1]           (damping: one-pole low-pass)
    t[n] = u[n] + g_k l[n]                         (feedback)

and the comb outputs are summed. Per section ``j`` (Freeverb's form, which is
not exactly all-pass)::

    b[n] = s[n] + a b[n - P_j]
    s'[n] = b[n - P_j] - s[n]

The right channel's delays are :data:`STEREO_SPREAD` samples longer. Delays are
Freeverb's tunings at 44.1 kHz, scaled to the sample rate as JUCE scales them.

:func:`freeverb` runs it for per-row, per-comb feedbacks ``g`` and dampings ``d``
(they may differ from comb to comb; Freeverb itself shares one of each), mixes
the two channels by a per-row ``2 x 2`` matrix (Freeverb's width and wet gain)
and adds the dry input at a per-row gain; the reverberator's input is delayed by
a per-row number of samples (a pre-delay). Everything done per sample happens in
compiled loops (numba), so autograd adds almost nothing. The backward pass is
the exact adjoint: the transposed filters run backwards in time, and the
gradients of ``g`` and ``d`` are sums of the adjoint times the low-pass states,
which the forward pass keeps when gradients are wanted (16 numbers a sample).
The delay is rounded to a sample; its gradient is that of a true delay (minus
the adjoint times the delayed input's slope).

The combs run four at a time, so their recursions overlap in the processor, and
delay lines are small rings (a power of two long, indices wrapped by a mask), so
a call needs little fresh memory: on this project's virtual machines, first
touches of fresh memory cost about as much as the filtering. The cost is that of the
filters themselves, whatever the reverberation time (no impulse response is
built, no FFT taken): about 0.0015 CPU-s per track-second forward on one thread
at 44.1 kHz, and under three times that with the backward pass.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import torch

from console_effects.functional.compiled import compile_loops

#: Freeverb's comb delays at 44.1 kHz, in samples (left channel).
COMB_TUNINGS: tuple[int, ...] = (1116, 1188, 1277, 1356, 1422, 1491, 1557, 1617)
#: Freeverb's all-pass delays at 44.1 kHz, in samples (left channel), in processing order.
ALLPASS_TUNINGS: tuple[int, ...] = (556, 441, 341, 225)
#: Samples added to every right-channel delay at 44.1 kHz.
STEREO_SPREAD = 23
#: The all-pass sections' feedback, as in Freeverb.
ALLPASS_FEEDBACK = 0.5
#: The rate the tunings are given at.
TUNING_RATE = 44100


def delays(sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """``(2, 8)`` comb and ``(2, 4)`` all-pass delays at ``sample_rate`` (scaled as JUCE does)."""
    rate = int(sample_rate)

    def scaled(tunings: tuple[int, ...]) -> np.ndarray:
        rows = [[max(1, rate * (t + spread) // TUNING_RATE) for t in tunings]
                for spread in (0, STEREO_SPREAD)]
        return np.asarray(rows, dtype=np.int64)

    return scaled(COMB_TUNINGS), scaled(ALLPASS_TUNINGS)


def _ring_mask(delays: np.ndarray) -> int:
    """``2**k - 1`` for the smallest ring of ``2**k`` samples longer than every delay."""
    size = 1
    while size <= delays.max():
        size *= 2
    return size - 1


def _forward(
    x: np.ndarray, shifts: np.ndarray, comb_delays: np.ndarray, ap_delays: np.ndarray,
    feedback: np.ndarray, damping: np.ndarray, matrix: np.ndarray, dry: np.ndarray,
    ap_feedback: float, comb_mask: int, ap_mask: int, taps: np.ndarray, out: np.ndarray,
    states: np.ndarray, keep: bool,
) -> None:
    """``out (N, 2, T)`` from ``x (N, C, T)``: see :func:`freeverb`; every filter starts silent.

    ``taps`` receives the two channels before ``matrix`` (it may be ``out``
    itself); if ``keep``, ``states (N, 2, 8, T + 1)`` the combs' low-pass states
    (``states[..., n + 1] = l[n]``, ``states[..., 0] = 0``) for the backward pass.
    Delay lines are rings of ``mask + 1`` samples (a power of two: indices wrap
    by the mask, no branch), small enough to stay in the first-level cache.
    """
    rows, channels, length = x.shape
    last = channels - 1
    combs = comb_delays.shape[1]
    rings = np.zeros((4, comb_mask + 1), dtype=np.float64)
    ring0, ring1, ring2, ring3 = rings[0], rings[1], rings[2], rings[3]
    sections = np.zeros((4, ap_mask + 1), dtype=np.float64)
    ap0, ap1, ap2, ap3 = sections[0], sections[1], sections[2], sections[3]
    for r in range(rows):
        shift = shifts[r]
        for c in range(2):
            acc = taps[r, c]
            for k in range(0, combs, 4):
                s0, s1 = comb_delays[c, k], comb_delays[c, k + 1]
                s2, s3 = comb_delays[c, k + 2], comb_delays[c, k + 3]
                g0, g1, g2, g3 = (feedback[r, c, k], feedback[r, c, k + 1],
                                  feedback[r, c, k + 2], feedback[r, c, k + 3])
                d0, d1, d2, d3 = (damping[r, c, k], damping[r, c, k + 1],
                                  damping[r, c, k + 2], damping[r, c, k + 3])
                e0, e1, e2, e3 = 1.0 - d0, 1.0 - d1, 1.0 - d2, 1.0 - d3
                rings[:, :] = 0.0
                if keep:
                    states[r, c, k : k + 4, 0] = 0.0
                l0 = 0.0
                l1 = 0.0
                l2 = 0.0
                l3 = 0.0
                for n in range(length):
                    here = n & comb_mask
                    y0 = ring0[here]
                    y1 = ring1[here]
                    y2 = ring2[here]
                    y3 = ring3[here]
                    l0 = y0 * e0 + l0 * d0
                    l1 = y1 * e1 + l1 * d1
                    l2 = y2 * e2 + l2 * d2
                    l3 = y3 * e3 + l3 * d3
                    m = n - shift  # the pre-delay: silence until the input arrives
                    v = 0.5 * (x[r, 0, m] + x[r, last, m]) if m >= 0 else 0.0
                    ring0[(n + s0) & comb_mask] = v + g0 * l0
                    ring1[(n + s1) & comb_mask] = v + g1 * l1
                    ring2[(n + s2) & comb_mask] = v + g2 * l2
                    ring3[(n + s3) & comb_mask] = v + g3 * l3
                    total = (y0 + y1) + (y2 + y3)
                    if k == 0:
                        acc[n] = total
                    else:
                        acc[n] += total
                    if keep:
                        states[r, c, k, n + 1] = l0
                        states[r, c, k + 1, n + 1] = l1
                        states[r, c, k + 2, n + 1] = l2
                        states[r, c, k + 3, n + 1] = l3
            p0, p1, p2, p3 = ap_delays[c, 0], ap_delays[c, 1], ap_delays[c, 2], ap_delays[c, 3]
            sections[:, :] = 0.0
            for n in range(length):
                here = n & ap_mask
                value = acc[n]
                held = ap0[here]
                ap0[(n + p0) & ap_mask] = value + ap_feedback * held
                value = held - value
                held = ap1[here]
                ap1[(n + p1) & ap_mask] = value + ap_feedback * held
                value = held - value
                held = ap2[here]
                ap2[(n + p2) & ap_mask] = value + ap_feedback * held
                value = held - value
                held = ap3[here]
                ap3[(n + p3) & ap_mask] = value + ap_feedback * held
                acc[n] = held - value
        m00, m01, m10, m11 = matrix[r, 0, 0], matrix[r, 0, 1], matrix[r, 1, 0], matrix[r, 1, 1]
        gain = dry[r]
        for n in range(length):
            left = taps[r, 0, n]
            right = taps[r, 1, n]
            out[r, 0, n] = m00 * left + m01 * right + gain * x[r, 0, n]
            out[r, 1, n] = m10 * left + m11 * right + gain * x[r, last, n]


#: Floating-point liberties of the backward loop: fused multiply-adds, and sums in any order
#: (the last pass's sums vectorise); the rounding of a gradient moves by ~1e-16 relative.
#: The forward loop takes none, so its output is what it was.
_ADJOINT_FASTMATH = {"contract", "reassoc"}


def _backward(
    grad_out: np.ndarray, x: np.ndarray, shifts: np.ndarray, comb_delays: np.ndarray,
    ap_delays: np.ndarray, feedback: np.ndarray, damping: np.ndarray, matrix: np.ndarray,
    dry: np.ndarray, ap_feedback: float, comb_mask: int, ap_mask: int, taps: np.ndarray,
    states: np.ndarray, grad_x: np.ndarray, grad_shift: np.ndarray, grad_feedback: np.ndarray,
    grad_damping: np.ndarray, grad_matrix: np.ndarray, grad_dry: np.ndarray,
) -> None:
    """The adjoint of :func:`_forward` (run with ``keep``): gradients of every input.

    Every filter here is linear and time-invariant, so the adjoint of each
    all-pass section is the section itself run backwards in time: one ring per
    section and sample, as in the forward pass (the transposed form took two).
    The combs' adjoints run four at a time, and the gradients of their
    feedbacks and dampings are sums over time of the adjoints times the kept
    low-pass states. The last pass (the matrix, the dry gain, the input and the
    delay) has no branch in its sums, so they vectorise. The delays' rounding
    is taken as a true delay: see :func:`freeverb`.
    """
    rows, channels, length = x.shape
    last = channels - 1
    combs = comb_delays.shape[1]
    rings = np.zeros((4, comb_mask + 1), dtype=np.float64)  # adjoints at the delay lines
    adj0, adj1, adj2, adj3 = rings[0], rings[1], rings[2], rings[3]
    sections = np.zeros((4, ap_mask + 1), dtype=np.float64)
    ap0, ap1, ap2, ap3 = sections[0], sections[1], sections[2], sections[3]
    lam = np.empty(length, dtype=np.float64)  # adjoint at the combs' sum
    lam_v = np.empty(length, dtype=np.float64)  # adjoint at the delayed input
    mono = np.zeros(length + 3, dtype=np.float64)  # mono[m + 2]: the reverberator's input at m
    wrap_comb, wrap_ap = np.uint64(comb_mask), np.uint64(ap_mask)
    for r in range(rows):
        shift = shifts[r]
        m00, m01, m10, m11 = matrix[r, 0, 0], matrix[r, 0, 1], matrix[r, 1, 0], matrix[r, 1, 1]
        gain = dry[r]
        lam_v[:] = 0.0
        for c in range(2):
            # Sections, last first, each its own recursion backwards in time: with o the
            # adjoint at its output, h[n] = o[n] + a h[n + P] and the adjoint at its input
            # is h[n + P] - o[n]. The last section's o is the matrix's transpose applied
            # to the output's gradient.
            front, cross = (m00, m10) if c == 0 else (m01, m11)
            p0, p1 = np.uint64(ap_delays[c, 0]), np.uint64(ap_delays[c, 1])
            p2, p3 = np.uint64(ap_delays[c, 2]), np.uint64(ap_delays[c, 3])
            sections[:, :] = 0.0
            for j in range(length):
                n = np.uint64(length - 1 - j)  # unsigned indices: no wrap-around checks
                here = n & wrap_ap
                value = front * grad_out[r, 0, n] + cross * grad_out[r, 1, n]
                held = ap3[(n + p3) & wrap_ap]
                ap3[here] = value + ap_feedback * held
                value = held - value
                held = ap2[(n + p2) & wrap_ap]
                ap2[here] = value + ap_feedback * held
                value = held - value
                held = ap1[(n + p1) & wrap_ap]
                ap1[here] = value + ap_feedback * held
                value = held - value
                held = ap0[(n + p0) & wrap_ap]
                ap0[here] = value + ap_feedback * held
                lam[n] = held - value
            # Combs, four at a time: lam_t[n] = lam_y[n + D]; lam_l[n] = g lam_t[n] +
            # d lam_l[n + 1]; lam_y[n] = lam_s[n] + (1 - d) lam_l[n]; lam_v[n] += lam_t[n];
            # dL/dg = sum lam_t[n] l[n]; dL/dd = sum lam_l[n] (l[n - 1] - y[n]), where
            # l[n - 1] - y[n] = (l[n - 1] - l[n]) / (1 - d) by the low-pass's recursion.
            for k in range(0, combs, 4):
                s0, s1 = np.uint64(comb_delays[c, k]), np.uint64(comb_delays[c, k + 1])
                s2, s3 = np.uint64(comb_delays[c, k + 2]), np.uint64(comb_delays[c, k + 3])
                g0, g1, g2, g3 = (feedback[r, c, k], feedback[r, c, k + 1],
                                  feedback[r, c, k + 2], feedback[r, c, k + 3])
                d0, d1, d2, d3 = (damping[r, c, k], damping[r, c, k + 1],
                                  damping[r, c, k + 2], damping[r, c, k + 3])
                e0, e1, e2, e3 = 1.0 - d0, 1.0 - d1, 1.0 - d2, 1.0 - d3
                rings[:, :] = 0.0
                st0, st1 = states[r, c, k], states[r, c, k + 1]
                st2, st3 = states[r, c, k + 2], states[r, c, k + 3]
                c0 = st0[length]  # l[n], carried from one step to the next
                c1 = st1[length]
                c2 = st2[length]
                c3 = st3[length]
                l0 = 0.0
                l1 = 0.0
                l2 = 0.0
                l3 = 0.0
                sg0 = 0.0
                sg1 = 0.0
                sg2 = 0.0
                sg3 = 0.0
                sd0 = 0.0
                sd1 = 0.0
                sd2 = 0.0
                sd3 = 0.0
                for j in range(length):
                    n = np.uint64(length - 1 - j)
                    t0 = adj0[(n + s0) & wrap_comb]
                    t1 = adj1[(n + s1) & wrap_comb]
                    t2 = adj2[(n + s2) & wrap_comb]
                    t3 = adj3[(n + s3) & wrap_comb]
                    l0 = g0 * t0 + d0 * l0
                    l1 = g1 * t1 + d1 * l1
                    l2 = g2 * t2 + d2 * l2
                    l3 = g3 * t3 + d3 * l3
                    at_sum = lam[n]
                    here = n & wrap_comb
                    adj0[here] = at_sum + e0 * l0
                    adj1[here] = at_sum + e1 * l1
                    adj2[here] = at_sum + e2 * l2
                    adj3[here] = at_sum + e3 * l3
                    lam_v[n] += (t0 + t1) + (t2 + t3)
                    b0 = st0[n]  # l[n - 1]
                    b1 = st1[n]
                    b2 = st2[n]
                    b3 = st3[n]
                    sg0 += t0 * c0
                    sg1 += t1 * c1
                    sg2 += t2 * c2
                    sg3 += t3 * c3
                    sd0 += l0 * (b0 - c0)
                    sd1 += l1 * (b1 - c1)
                    sd2 += l2 * (b2 - c2)
                    sd3 += l3 * (b3 - c3)
                    c0 = b0
                    c1 = b1
                    c2 = b2
                    c3 = b3
                grad_feedback[r, c, k] = sg0
                grad_feedback[r, c, k + 1] = sg1
                grad_feedback[r, c, k + 2] = sg2
                grad_feedback[r, c, k + 3] = sg3
                grad_damping[r, c, k] = sd0 / e0
                grad_damping[r, c, k + 1] = sd1 / e1
                grad_damping[r, c, k + 2] = sd2 / e2
                grad_damping[r, c, k + 3] = sd3 / e3
        # v[n] = mean of x at n - shift: the input's adjoint is lam_v moved back (shared by
        # the channels) plus the dry path's; the shift's is minus lam_v times v's slope. The
        # matrix's and the dry gain's are the output's gradient times what they scaled.
        share = 1.0 / channels
        s00 = 0.0
        s01 = 0.0
        s10 = 0.0
        s11 = 0.0
        s_dry = 0.0
        for n in range(length):
            grad0 = grad_out[r, 0, n]
            grad1 = grad_out[r, 1, n]
            left = taps[r, 0, n]
            right = taps[r, 1, n]
            s00 += grad0 * left
            s01 += grad0 * right
            s10 += grad1 * left
            s11 += grad1 * right
            s_dry += grad0 * x[r, 0, n] + grad1 * x[r, last, n]
            mono[n + 2] = 0.5 * (x[r, 0, n] + x[r, last, n])
        reached = length - shift  # samples of the input the reverberator heard
        for n in range(length):
            wet = share * lam_v[n + shift] if n < reached else 0.0
            if channels == 1:
                grad_x[r, 0, n] = wet + gain * (grad_out[r, 0, n] + grad_out[r, 1, n])
            else:
                grad_x[r, 0, n] = wet + gain * grad_out[r, 0, n]
                grad_x[r, 1, n] = wet + gain * grad_out[r, 1, n]
        # lam_v[n] (v[n + 1] - v[n - 1]) with v[n] = mono[n - shift + 2], zero outside the
        # input (mono's two zeros before it and one after; nothing before m = -1 counts).
        first = max(shift - 1, 0)
        slope = lam_v[first:]
        ahead = mono[first - shift + 3 : length - shift + 3]
        behind = mono[first - shift + 1 : length - shift + 1]
        slope_sum = 0.0
        for i in range(length - first):
            slope_sum += slope[i] * (ahead[i] - behind[i])
        grad_shift[r] = -0.5 * slope_sum
        grad_dry[r] = s_dry
        grad_matrix[r, 0, 0] = s00
        grad_matrix[r, 0, 1] = s01
        grad_matrix[r, 1, 0] = s10
        grad_matrix[r, 1, 1] = s11


@functools.cache
def _loops() -> tuple[Any, Any]:
    (forward_loop,) = compile_loops("the Freeverb reverberator", _forward)
    import numba  # there: compile_loops said what to do without it

    return forward_loop, numba.njit(cache=True, fastmath=_ADJOINT_FASTMATH)(_backward)


def _numpy(t: torch.Tensor, dtype: Any) -> np.ndarray:
    return np.ascontiguousarray(t.detach().cpu().numpy(), dtype=dtype)


class _Freeverb(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx: Any, x: torch.Tensor, feedback: torch.Tensor, damping: torch.Tensor,
        matrix: torch.Tensor, delay: torch.Tensor, dry: torch.Tensor, sample_rate: int,
    ) -> torch.Tensor:
        forward_loop, _ = _loops()
        comb_delays, ap_delays = delays(sample_rate)
        rows, _, length = x.shape
        dtype = np.float64 if x.dtype == torch.float64 else np.float32
        x_np = _numpy(x, dtype)
        shifts = np.clip(np.rint(_numpy(delay, np.float64)), 0, length).astype(np.int64)
        g_np, d_np = _numpy(feedback, np.float64), _numpy(damping, np.float64)
        m_np, dry_np = _numpy(matrix, np.float64), _numpy(dry, np.float64)
        out = np.empty((rows, 2, length), dtype=dtype)
        keep = any(ctx.needs_input_grad[:6])
        taps = np.empty_like(out) if keep else out
        states = np.empty((rows, 2, len(COMB_TUNINGS), length + 1) if keep else (1, 1, 1, 1),
                          dtype=dtype)
        masks = (_ring_mask(comb_delays), _ring_mask(ap_delays))
        forward_loop(x_np, shifts, comb_delays, ap_delays, g_np, d_np, m_np, dry_np,
                     ALLPASS_FEEDBACK, *masks, taps, out, states, keep)
        if keep:
            ctx.saved = (x_np, shifts, comb_delays, ap_delays, g_np, d_np, m_np, dry_np, masks,
                         taps, states)
            ctx.dtypes = tuple(t.dtype for t in (x, feedback, damping, matrix, delay, dry))
        return torch.from_numpy(out).to(device=x.device, dtype=x.dtype)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        _, backward_loop = _loops()
        x_np, shifts, comb_delays, ap_delays, g_np, d_np, m_np, dry_np, masks, taps, states = (
            ctx.saved)
        grads = (
            np.empty(x_np.shape, dtype=x_np.dtype), np.empty(g_np.shape), np.empty(d_np.shape),
            np.empty(m_np.shape), np.empty(shifts.shape), np.empty(dry_np.shape),
        )
        grad_x, grad_g, grad_d, grad_m, grad_shift, grad_dry = grads
        backward_loop(_numpy(grad, x_np.dtype), x_np, shifts, comb_delays, ap_delays, g_np,
                      d_np, m_np, dry_np, ALLPASS_FEEDBACK, *masks, taps, states, grad_x,
                      grad_shift, grad_g, grad_d, grad_m, grad_dry)
        # Each gradient in its input's dtype (the settings' float64 ones stay float64).
        return (*(
            torch.from_numpy(array).to(device=grad.device, dtype=dtype) if need else None
            for array, dtype, need in zip(grads, ctx.dtypes, ctx.needs_input_grad[:6],
                                          strict=True)
        ), None)


def freeverb(
    x: torch.Tensor, feedback: torch.Tensor, damping: torch.Tensor, matrix: torch.Tensor,
    delay: torch.Tensor, dry: torch.Tensor, sample_rate: int,
) -> torch.Tensor:
    """``(N, 2, T)``: the reverberator on ``x`` ``(N, C, T)``, mixed by ``matrix``, plus ``dry x``.

    The reverberator's input is the mean of ``x``'s channels (``C`` is 1 or 2;
    Freeverb sums its inputs), delayed by ``delay`` ``(N,)`` samples (rounded).
    ``feedback`` and ``damping`` are ``(N, 2, 8)``: per row, channel and comb,
    each in ``[0, 1)`` for a stable filter (the low-pass has unit gain at DC,
    so the loop gain never exceeds ``feedback``). ``matrix`` ``(N, 2, 2)`` maps
    the reverberator's left and right channels to the output's (Freeverb's
    ``wet1`` on the diagonal, ``wet2`` off it); ``dry`` ``(N,)`` scales ``x``
    added to each side (a mono ``x`` to both). Starts from silence; the output
    keeps the input's length. Differentiable in every tensor; runs on the CPU
    (tensors elsewhere go through it and back).
    """
    rows = x.shape[0]
    shapes = {"feedback": (feedback, (rows, 2, len(COMB_TUNINGS))),
              "damping": (damping, (rows, 2, len(COMB_TUNINGS))),
              "matrix": (matrix, (rows, 2, 2)), "delay": (delay, (rows,)), "dry": (dry, (rows,))}
    if x.dim() != 3 or x.shape[1] not in (1, 2):
        raise ValueError(f"freeverb: x must be (N, 1 or 2, T), got {tuple(x.shape)}.")
    for name, (tensor, shape) in shapes.items():
        if tuple(tensor.shape) != shape:
            raise ValueError(f"freeverb: {name} must be {shape}, got {tuple(tensor.shape)}.")
    return _Freeverb.apply(x, feedback, damping, matrix, delay, dry, int(sample_rate))
