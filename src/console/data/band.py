"""Multitrack arrangements of 2 to 24 parts: a band, or a drum kit recorded piece by piece.

Where :mod:`console.data.arrangement` writes one fixed little band, this
writes the kinds of sessions a mixing engineer receives: a drum kit with a
microphone per piece (kick, snare, hi-hat, several toms, cymbals,
percussion), or a band whose drums are split the same way, with bass, one or
two keyboards and guitars (sometimes double-tracked), strings or pads, brass,
a lead and a vocal line. Every part says which instrument plays it: a General
MIDI program or drum key, so a SoundFont can render it, and a role, so the
engineer knows how to mix it.
"""

from __future__ import annotations

from typing import Literal

import attrs
import numpy as np

from console.data.arrangement import KICK_PATTERNS, MAJOR, MINOR, PROGRESSIONS, Note

Kind = Literal["band", "drums"]
MAX_STEMS = 24

#: General MIDI drum keys by kit piece.
KICK_KEYS = (35, 36)
SNARE_KEYS = (38, 40)
HIHAT_CLOSED, HIHAT_PEDAL, HIHAT_OPEN = 42, 44, 46
TOM_KEYS = (50, 48, 47, 45, 43, 41)  # high to low
CRASH_KEYS = (49, 57)
RIDE_KEYS = (51, 59)
PERCUSSION_KEYS = {
    "tambourine": (54,), "shaker": (70,), "cowbell": (56,), "clap": (39,),
    "congas": (62, 63, 64), "bongos": (60, 61), "woodblock": (76, 77),
}

#: General MIDI programs (0-based) by role, the instruments a band of that role might use.
PROGRAMS: dict[str, tuple[int, ...]] = {
    "bass": (32, 33, 34, 35, 36, 38, 39),
    "keys": (0, 1, 2, 4, 5, 7, 16, 17, 18, 19),
    "guitar": (24, 25, 26, 27, 28, 29, 30),
    "lead": (56, 64, 65, 66, 68, 71, 73, 80, 81, 40),
    "vocals": (52, 53, 54, 85),
    "strings": (48, 49, 50, 44),
    "pad": (88, 89, 90, 91, 92, 94, 95),
    "brass": (61, 62, 57, 60),
}


@attrs.frozen
class Part:
    """One stem to render: its file name, role, notes and instrument."""

    name: str
    role: str
    notes: list[Note]
    drums: bool
    program: int = 0  # General MIDI program of a melodic part


@attrs.frozen
class Multitrack:
    """A whole session's parts, with tempo and key for the record."""

    kind: str
    tempo_bpm: float
    key_midi: int
    scale: str
    parts: list[Part]


def _scale_note(key: int, scale: tuple[int, ...], degree: int, octave: int) -> int:
    return key + 12 * (octave + degree // len(scale)) + scale[degree % len(scale)]


class _Grid:
    """Sixteenth-note positions of the song, with the chord of each bar."""

    def __init__(self, rng: np.random.Generator, duration: float) -> None:
        self.rng = rng
        self.duration = duration
        self.tempo = float(rng.uniform(70, 160))
        self.step = 60.0 / self.tempo / 4
        self.bars = int(np.ceil(duration / (16 * self.step)))
        self.key = int(rng.integers(40, 52))
        self.minor = bool(rng.random() < 0.5)
        self.scale = MINOR if self.minor else MAJOR
        self.progression = PROGRESSIONS[int(rng.integers(len(PROGRESSIONS)))]

    def at(self, bar: int, step: int) -> float:
        return (bar * 16 + step) * self.step

    def chord(self, bar: int, octave: int = 0) -> list[int]:
        degree = self.progression[bar % len(self.progression)]
        return [_scale_note(self.key, self.scale, degree + i, octave) for i in (0, 2, 4)]

    def positions(self):
        for bar in range(self.bars):
            for s in range(16):
                t = self.at(bar, s)
                if t < self.duration:
                    yield bar, s, t

    def vel(self, low: float, high: float) -> float:
        return float(self.rng.uniform(low, high))


def _drum_parts(grid: _Grid, rng: np.random.Generator, full_kit: bool) -> list[Part]:
    """A kit recorded piece by piece: kick, snare, hi-hat, toms, cymbals, percussion."""
    kick_steps = KICK_PATTERNS[int(rng.integers(len(KICK_PATTERNS)))]
    kick_key = int(rng.choice(KICK_KEYS))
    snare_key = int(rng.choice(SNARE_KEYS))
    hat_every = int(rng.choice([1, 2, 2, 4]))
    use_ride = bool(rng.random() < (0.5 if full_kit else 0.3))
    n_toms = int(rng.integers(1, 4)) if full_kit or rng.random() < 0.5 else 0
    toms = sorted(rng.choice(len(TOM_KEYS), size=n_toms, replace=False).tolist())
    fill_every = int(rng.choice([2, 4]))
    kick, snare, hat, ride, crash = [], [], [], [], []
    tom_notes: list[list[Note]] = [[] for _ in toms]
    for bar, s, t in grid.positions():
        fill = n_toms > 0 and bar % fill_every == fill_every - 1 and s >= 8
        if s in kick_steps:
            kick.append(Note(t, 0.3, kick_key, grid.vel(0.75, 1.0)))
        if s in (4, 12) and not fill:
            snare.append(Note(t, 0.25, snare_key, grid.vel(0.8, 1.0)))
        elif rng.random() < 0.05:
            snare.append(Note(t, 0.15, snare_key, grid.vel(0.15, 0.35)))
        if s % hat_every == 0 and not fill:
            accent = 1.0 if s % 4 == 0 else 0.65
            key = HIHAT_OPEN if (s == 14 and rng.random() < 0.3) else HIHAT_CLOSED
            (ride if use_ride and bar % 8 >= 4 else hat).append(
                Note(t, 0.1, RIDE_KEYS[0] if use_ride and bar % 8 >= 4 else key,
                     accent * grid.vel(0.6, 0.9))
            )
        if fill and s % 2 == 0:
            k = (s - 8) // 2 * len(toms) // 4
            tom_notes[min(k, len(toms) - 1)].append(
                Note(t, 0.4, TOM_KEYS[toms[min(k, len(toms) - 1)]], grid.vel(0.7, 1.0))
            )
        if s == 0 and bar % 4 == 0:
            crash.append(Note(t, 1.5, int(rng.choice(CRASH_KEYS)), grid.vel(0.7, 1.0)))
    parts = [Part("kick.wav", "kick", kick, True), Part("snare.wav", "snare", snare, True),
             Part("hihat.wav", "hihat", hat, True)]
    names = ("tom_hi", "tom_mid", "tom_lo") if len(toms) == 3 else (
        ("tom_hi", "tom_floor") if len(toms) == 2 else ("tom",))
    parts += [Part(f"{n}.wav", "tom", notes, True) for n, notes in zip(names, tom_notes,
                                                                       strict=False)]
    if ride:
        parts.append(Part("ride.wav", "overhead", ride, True))
    if crash and (full_kit or rng.random() < 0.6):
        parts.append(Part("crash.wav", "overhead", crash, True))
    n_perc = int(rng.integers(0, 3 if full_kit else 2))
    for name in rng.choice(sorted(PERCUSSION_KEYS), size=n_perc, replace=False):
        keys = PERCUSSION_KEYS[str(name)]
        every = int(rng.choice([2, 4, 8]))
        notes = [Note(t, 0.2, int(rng.choice(keys)), grid.vel(0.4, 0.9))
                 for _, s, t in grid.positions() if s % every == (every // 2) % every
                 and rng.random() < 0.85]
        if notes:
            parts.append(Part(f"{name}.wav", "percussion", notes, True))
    return [p for p in parts if p.notes]


def _bass(grid: _Grid, rng: np.random.Generator, program: int) -> Part:
    kick_steps = KICK_PATTERNS[int(rng.integers(len(KICK_PATTERNS)))]
    notes = []
    for bar, s, t in grid.positions():
        if s in kick_steps or (s % 4 == 2 and rng.random() < 0.3):
            root = grid.chord(bar, octave=-1)[0]
            notes.append(Note(t, grid.step * 3.5, root, grid.vel(0.7, 1.0)))
    return Part("bass.wav", "bass", notes, False, program)


def _chords(grid: _Grid, name: str, role: str, program: int, style: str) -> Part:
    notes = []
    for bar in range(grid.bars):
        chord = grid.chord(bar, octave=1)
        hits = {"held": (0,), "halves": (0, 8), "strum": (2, 6, 10, 14),
                "stabs": (0, 3, 6, 10)}[style]
        length = {"held": 16, "halves": 7.5, "strum": 2, "stabs": 1.5}[style] * grid.step
        for s in hits:
            t = grid.at(bar, s)
            if t >= grid.duration:
                continue
            for i, pitch in enumerate(chord):
                offset = 0.012 * i if style == "strum" else 0.0
                notes.append(Note(t + offset, length, pitch, grid.vel(0.5, 0.8)))
    return Part(name, role, notes, False, program)


def _melody(grid: _Grid, rng: np.random.Generator, name: str, role: str, program: int,
            octave: int, slow: bool) -> Part:
    notes, degree = [], 7
    for bar in range(grid.bars):
        s = 0
        while s < 16:
            length = int(rng.choice([4, 4, 8, 8, 16] if slow else [2, 2, 4, 4, 6, 8]))
            t = grid.at(bar, s)
            if t < grid.duration and rng.random() < 0.8:
                degree = int(np.clip(degree + rng.integers(-2, 3), 3, 13))
                pitch = _scale_note(grid.key, grid.scale, degree, octave)
                notes.append(Note(t, grid.step * length * 0.9, pitch, grid.vel(0.6, 0.9)))
            s += length
    return Part(name, role, notes, False, program)


def _pick(rng: np.random.Generator, role: str) -> int:
    return int(rng.choice(PROGRAMS[role]))


def make_multitrack(
    rng: np.random.Generator, duration: float, kind: Kind = "band", max_stems: int = MAX_STEMS
) -> Multitrack:
    """A random session of ``kind`` with between 2 and ``max_stems`` parts."""
    if max_stems < 2:
        raise ValueError(f"max_stems must be at least 2, got {max_stems}.")
    grid = _Grid(rng, duration)
    if kind == "drums":
        parts = _drum_parts(grid, rng, full_kit=True)
    elif kind == "band":
        parts = _drum_parts(grid, rng, full_kit=False) if rng.random() < 0.9 else []
        parts.append(_bass(grid, rng, _pick(rng, "bass")))
        for i in range(int(rng.integers(1, 3))):
            style = str(rng.choice(["held", "halves", "stabs"]))
            parts.append(_chords(grid, f"keys{i + 1}.wav", "keys", _pick(rng, "keys"), style))
        n_guitars = int(rng.integers(0, 3))
        guitar = _pick(rng, "guitar")
        for i in range(n_guitars):  # two guitars play the same part: a double-tracked pair
            parts.append(_chords(grid, f"guitar{i + 1}.wav", "guitar", guitar, "strum"))
        if rng.random() < 0.5:
            role = str(rng.choice(["strings", "pad"]))
            parts.append(_chords(grid, f"{role}.wav", role, _pick(rng, role), "held"))
        if rng.random() < 0.3:
            parts.append(_chords(grid, "brass.wav", "brass", _pick(rng, "brass"), "stabs"))
        if rng.random() < 0.8:
            parts.append(_melody(grid, rng, "lead.wav", "lead", _pick(rng, "lead"), 2, False))
        if rng.random() < 0.5:
            parts.append(_melody(grid, rng, "vocals.wav", "vocals", _pick(rng, "vocals"), 1,
                                 True))
    else:
        raise ValueError(f"Unknown session kind {kind!r}; use 'band' or 'drums'.")
    parts = [p for p in parts if p.notes]
    if len(parts) > max_stems:
        keep = sorted(rng.choice(len(parts), size=max_stems, replace=False).tolist())
        parts = [parts[i] for i in keep]
    if len(parts) > 2 and rng.random() < 0.15:  # sometimes a small session: 2 or 3 stems
        keep = sorted(rng.choice(len(parts), size=int(rng.integers(2, 4)), replace=False))
        parts = [parts[i] for i in keep]
    return Multitrack(kind, grid.tempo, grid.key, "minor" if grid.minor else "major", parts)
