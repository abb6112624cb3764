"""A random little song: tempo, key, chords and the notes each part plays.

The arrangement is what makes the stems of a synthetic session belong
together (the bass follows the chords, the kick and the bass lock), so that
mixing them is a real mixing problem rather than a sum of noises.
"""

from __future__ import annotations

import attrs
import numpy as np

MAJOR = (0, 2, 4, 5, 7, 9, 11)
MINOR = (0, 2, 3, 5, 7, 8, 10)
# Chord progressions as scale degrees (0 = tonic), one chord per bar.
PROGRESSIONS = ((0, 4, 5, 3), (0, 5, 3, 4), (0, 3, 4, 4), (5, 3, 0, 4), (0, 0, 3, 4))
KICK_PATTERNS = (
    (0, 8),  # 16th steps of a 4/4 bar
    (0, 4, 8, 12),
    (0, 6, 8, 10),
    (0, 3, 8, 11),
)


@attrs.frozen
class Note:
    """One event: start and length in seconds, MIDI pitch, velocity in ``(0, 1]``."""

    start: float
    duration: float
    pitch: float
    velocity: float


@attrs.frozen
class Arrangement:
    """Who plays what: ``parts[role] = notes``, with the song's tempo and key."""

    tempo_bpm: float
    key_midi: int
    scale: str
    parts: dict[str, list[Note]]

    @property
    def roles(self) -> list[str]:
        return list(self.parts)


def _scale_note(key: int, scale: tuple[int, ...], degree: int, octave: int) -> int:
    return key + 12 * (octave + degree // len(scale)) + scale[degree % len(scale)]


def make_arrangement(
    rng: np.random.Generator, duration: float, with_toms: bool | None = None
) -> Arrangement:
    """Drums (kick, snare, hi-hat, sometimes toms), bass, keys and/or guitar, and a lead."""
    tempo = float(rng.uniform(80, 140))
    step = 60.0 / tempo / 4  # a 16th note
    bars = int(np.ceil(duration / (16 * step)))
    key = int(rng.integers(40, 48))  # E2 .. B2
    minor = bool(rng.random() < 0.5)
    scale = MINOR if minor else MAJOR
    progression = PROGRESSIONS[int(rng.integers(len(PROGRESSIONS)))]
    kick_steps = KICK_PATTERNS[int(rng.integers(len(KICK_PATTERNS)))]
    hat_every = int(rng.choice([1, 2]))
    if with_toms is None:
        with_toms = bool(rng.random() < 0.5)
    harmony = [("keys",), ("guitar",), ("keys", "guitar")][int(rng.integers(3))]

    parts: dict[str, list[Note]] = {"kick": [], "snare": [], "hihat": []}
    if with_toms:
        parts["tom"] = []
    parts["bass"] = []
    for role in harmony:
        parts[role] = []
    parts["lead"] = []

    def at(bar: int, s: int) -> float:
        return (bar * 16 + s) * step

    lead_degree = 7
    for bar in range(bars):
        degree = progression[bar % len(progression)]
        chord = [_scale_note(key, scale, degree + i, 0) for i in (0, 2, 4)]
        fill = with_toms and bar % 2 == 1
        for s in range(16):
            t = at(bar, s)
            if t >= duration:
                break
            if s in kick_steps:
                parts["kick"].append(Note(t, 0.3, 36, float(rng.uniform(0.8, 1.0))))
                parts["bass"].append(Note(t, step * 3.5, chord[0] - 12 + 12 * (key < 43),
                                          float(rng.uniform(0.7, 1.0))))
            if s in (4, 12) and not (fill and s == 12):
                parts["snare"].append(Note(t, 0.25, 38, float(rng.uniform(0.8, 1.0))))
            elif rng.random() < 0.06:
                parts["snare"].append(Note(t, 0.15, 38, float(rng.uniform(0.15, 0.3))))
            if s % hat_every == 0:
                accent = 1.0 if s % 4 == 0 else 0.6
                parts["hihat"].append(Note(t, 0.08, 42, accent * float(rng.uniform(0.6, 0.9))))
            if fill and s >= 8 and s % 2 == 0:
                parts["tom"].append(Note(t, 0.4, 50 - (s - 8), float(rng.uniform(0.7, 1))))
        if "keys" in parts:
            for half in (0, 8):
                for pitch in chord:
                    parts["keys"].append(Note(at(bar, half), step * 7.5, pitch + 12, 0.6))
        if "guitar" in parts:
            for s in (2, 6, 10, 14):
                for i, pitch in enumerate(chord):
                    parts["guitar"].append(Note(at(bar, s) + 0.012 * i, step * 2, pitch + 12,
                                                float(rng.uniform(0.5, 0.8))))
        s = 0
        while s < 16:
            length = int(rng.choice([2, 2, 4, 4, 6, 8]))
            if rng.random() < 0.8:
                lead_degree = int(np.clip(lead_degree + rng.integers(-2, 3), 3, 13))
                pitch = _scale_note(key, scale, lead_degree, 2)
                parts["lead"].append(Note(at(bar, s), step * length * 0.9, pitch,
                                          float(rng.uniform(0.6, 0.9))))
            s += length
    # A part with nothing to play inside the song (a fill after the end) is left out.
    parts = {role: [n for n in notes if n.start < duration] for role, notes in parts.items()}
    parts = {role: notes for role, notes in parts.items() if notes}
    return Arrangement(tempo, key, "minor" if minor else "major", parts)
