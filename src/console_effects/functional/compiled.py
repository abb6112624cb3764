"""Compiling an effect's sample loops with numba, the same way for every DSP kernel.

Recursive filters (biquads, attack/release ballistics, decaying band sums) run
one sample after another; as Python or torch loops they dominate an effect's
cost, compiled they come close to C. Compilation happens on first use and is
cached on disk, so importing an effect costs nothing.
"""

from __future__ import annotations

from collections.abc import Callable


def compile_loops(effect: str, *loops: Callable) -> tuple[Callable, ...]:
    """``loops`` compiled by numba; without numba, one error naming ``effect``."""
    try:
        import numba
    except ImportError as exc:
        raise ImportError(
            f"{effect} runs its sample loops with numba; install it (pip install numba)."
        ) from exc
    return tuple(numba.njit(cache=True)(loop) for loop in loops)
