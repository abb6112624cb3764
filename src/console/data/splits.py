"""Train / validation / test splits by song (or by group of songs), never by segment.

Segments of one song are nearly the same example; if they fell on both sides
of a split, validation would measure memory, not mixing.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import attrs

from console.data.song import Song


@attrs.frozen
class Splits:
    """Three disjoint lists of songs."""

    train: list[Song]
    validation: list[Song]
    test: list[Song]


def split_songs(
    songs: Sequence[Song],
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
    seed: int = 0,
    by_group: bool = False,
) -> Splits:
    """Shuffle songs with ``seed`` and cut them into train, validation and test.

    With ``by_group`` the songs of one :attr:`Song.group` (a drummer, an
    artist) stay in one split. Every split with a positive fraction gets at
    least one song (or group) when there are enough of them. The result does
    not depend on the order of ``songs``.
    """
    if len(fractions) != 3 or any(f < 0 for f in fractions) or sum(fractions) <= 0:
        raise ValueError(f"fractions must be three non-negative numbers, got {fractions}.")
    names = [s.name for s in songs]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"Song names must be unique to split by song; repeated: {duplicates}.")
    key = (lambda s: s.split_key) if by_group else (lambda s: s.name)
    units = sorted({key(s) for s in songs})
    random.Random(seed).shuffle(units)
    counts = _allocate(len(units), fractions)
    cut1, cut2 = counts[0], counts[0] + counts[1]
    which = {u: 0 if i < cut1 else 1 if i < cut2 else 2 for i, u in enumerate(units)}
    parts: list[list[Song]] = [[], [], []]
    for song in sorted(songs, key=lambda s: s.name):
        parts[which[key(song)]].append(song)
    return Splits(*parts)


def _allocate(n: int, fractions: tuple[float, float, float]) -> list[int]:
    """Whole counts summing to ``n``, close to ``fractions``, at least 1 where positive."""
    total = sum(fractions)
    counts = [int(n * f / total) for f in fractions]
    wanted = [i for i, f in enumerate(fractions) if f > 0]
    for i in wanted:  # give each wanted split one unit, taken from the largest
        if counts[i] == 0 and sum(counts) < n:
            counts[i] = 1
        elif counts[i] == 0:
            donor = max(range(3), key=lambda j: counts[j])
            if counts[donor] > 1:
                counts[donor] -= 1
                counts[i] = 1
    while sum(counts) < n:  # the rounding remainder goes to the largest fraction
        counts[max(wanted, key=lambda j: fractions[j])] += 1
    return counts
