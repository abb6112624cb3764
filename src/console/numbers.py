"""Numbers as the console reads and converts them: what counts as one, and decibels.

A user's file (params.json, listening-test results) may hold ``"3"``, ``true`` or
``NaN`` where a number belongs; every reader refuses those the same way. Gains in
dB become amplitude ratios in the chain, the console and the master stage.
"""

from __future__ import annotations

import math
from typing import Any

import torch

#: Decibels per neper of amplitude: ``20 log10(a) = DB_PER_NEPER * ln(a)``.
DB_PER_NEPER = 20.0 / math.log(10.0)


def is_finite_number(value: Any) -> bool:
    """A real number that is not NaN or infinite; strings and booleans are not numbers, nor
    is an integer too large for a float (a JSON file may hold one of 400 digits)."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def db_to_amplitude(gain_db: torch.Tensor) -> torch.Tensor:
    """``10 ** (gain_db / 20)`` as one exponential (``torch.pow`` with a tensor exponent is
    several times slower on a CPU)."""
    return torch.exp(gain_db / DB_PER_NEPER)
