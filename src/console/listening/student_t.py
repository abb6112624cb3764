"""Quantiles of Student's t distribution for integer degrees of freedom, without scipy.

The two-sided probability ``A(t | v) = P(|T| <= t)`` has a closed form as a
finite series in ``theta = atan(t / sqrt(v))`` (Abramowitz & Stegun 26.7.3);
the quantile is found by bisection on it.
"""

from __future__ import annotations

import math


def two_sided_probability(t: float, df: int) -> float:
    """``P(|T| <= t)`` for ``T`` Student-t with ``df`` degrees of freedom."""
    if df < 1:
        raise ValueError(f"Degrees of freedom must be at least 1, got {df}.")
    theta = math.atan(abs(t) / math.sqrt(df))
    c2 = math.cos(theta) ** 2
    if df % 2 == 1:
        series, term = 0.0, math.cos(theta)
        for k in range(1, (df - 1) // 2 + 1):
            series += term
            term *= c2 * (2 * k) / (2 * k + 1)
        return (2.0 / math.pi) * (theta + math.sin(theta) * series)
    series, term = 0.0, 1.0
    for k in range(1, df // 2 + 1):
        series += term
        term *= c2 * (2 * k - 1) / (2 * k)
    return math.sin(theta) * series


def t_quantile_two_sided(confidence: float, df: int) -> float:
    """The ``t`` with ``P(|T| <= t) = confidence``, e.g. 2.262 for 0.95 and 9 df."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}.")
    low, high = 0.0, 1.0
    while two_sided_probability(high, df) < confidence:
        high *= 2.0
    for _ in range(200):
        middle = 0.5 * (low + high)
        if two_sided_probability(middle, df) < confidence:
            low = middle
        else:
            high = middle
    return 0.5 * (low + high)
