"""The engineer's role rules, told each stem's role: the target a console should approach.

A console is never told what a stem is; it has to hear it. This baseline is
told, and applies the rule-based engineer's plain rules (neutral style, no
per-track taste) to gain and pan: each role's loudness and conventional
position, toms across the kit and crash and ride apart as the arrangement
places them. It needs no learning, so the distance between a console and it
measures what the console fails to recognise or to learn, and a console that
gets close has learnt the conventions in its data.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import attrs
import numpy as np
import torch

from console.chain import EffectChain
from console.data.engineer import DEFAULT_ENGINEER, choose_settings, get_engineer
from console.data.recorded import pan_hints


@attrs.frozen
class _Named:
    """What :func:`~console.data.recorded.pan_hints` reads of a part: its name and role."""

    name: str
    role: str


def role_rule_settings(
    stems: torch.Tensor, names: Sequence[str], roles: Sequence[str], sample_rate: int,
    engineer: str = DEFAULT_ENGINEER, stereo: torch.Tensor | None = None,
) -> torch.Tensor:
    """``(K, 2)`` gain in dB and pan position for ``stems`` of known ``roles``.

    ``stems`` are mono ``(K, T)``, or ``(K, 2, T)`` with ``stereo`` ``(K,)`` marking the
    stereo tracks (whose pan is a balance; the rules keep their recorded image).

    ``names`` are the stems' file names; they place tracks the arrangement spreads (toms by
    their order, a crash and a ride, a pair of guitars). ``engineer`` names whose rules
    (see :data:`~console.data.engineer.ENGINEERS`; a generated song's ``session.json``
    names any but the default in ``engineer_name``).
    """
    chain = EffectChain.from_spec("gain+pan")
    parts = [_Named(Path(n).stem, r) for n, r in zip(names, roles, strict=True)]
    # The arrangement lists toms high to low; file names sort them otherwise.
    order = sorted(range(len(parts)), key=lambda i: (_tom_rank(parts[i].name), i))
    hints = pan_hints([parts[i] for i in order])
    placed: list[float | None] = [None] * len(parts)
    for rank, i in enumerate(order):
        placed[i] = hints[rank]
    return choose_settings(
        chain, stems, list(roles), sample_rate, np.random.default_rng(0),
        pan_hints=placed, tastes=[0.0] * len(roles), engineer=get_engineer(engineer),
        stereo=None if stereo is None else stereo.tolist(),
    )


def _tom_rank(name: str) -> int:
    """Where a tom sits from high to low by its name (``tom_hi`` first, ``tom_floor`` last)."""
    lowered = name.lower()
    for rank, word in enumerate(("hi", "mid", "lo", "floor")):
        if lowered.endswith(word) or f"_{word}" in lowered:
            return rank
    return 1
