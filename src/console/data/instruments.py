"""Procedural instruments: one numpy function per voice, for machines without samples.

Each voice takes ``(pitch, duration, velocity, sample_rate, rng)`` and returns
a mono note as float32, which may ring past ``duration``. They are simple
(additive partials, swept sines, shaped noise) but have the spectra and
envelopes that make mixing decisions matter: a kick's low end, a hi-hat's
highs, a bass's sustain, a lead's vibrato.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Voice = Callable[[float, float, float, int, np.random.Generator], np.ndarray]


def midi_to_hz(pitch: float) -> float:
    return 440.0 * 2.0 ** ((pitch - 69.0) / 12.0)


def _time(seconds: float, sample_rate: int) -> np.ndarray:
    return np.arange(max(1, int(seconds * sample_rate))) / sample_rate


def _release(note: np.ndarray, duration: float, sample_rate: int, tail: float) -> np.ndarray:
    """Hold for ``duration`` then fade out linearly over ``tail`` seconds."""
    t = np.arange(note.shape[0]) / sample_rate
    return note * np.clip(1.0 - (t - duration) / tail, 0.0, 1.0)


def _highpass(noise: np.ndarray, times: int) -> np.ndarray:
    for _ in range(times):
        noise = np.diff(noise, prepend=0.0)
    return noise / (np.abs(noise).max() + 1e-9)


def kick(pitch, duration, velocity, sample_rate, rng) -> np.ndarray:
    t = _time(0.45, sample_rate)
    freq = 45.0 + 110.0 * np.exp(-t / 0.04)
    phase = 2 * np.pi * np.cumsum(freq) / sample_rate
    body = np.sin(phase) * np.exp(-t / 0.16)
    click = rng.standard_normal(t.shape) * np.exp(-t / 0.003) * 0.3
    return (velocity * (body + click)).astype(np.float32)


def snare(pitch, duration, velocity, sample_rate, rng) -> np.ndarray:
    t = _time(0.3, sample_rate)
    tone = np.sin(2 * np.pi * 185.0 * t) * np.exp(-t / 0.05)
    rattle = _highpass(rng.standard_normal(t.shape), 1) * np.exp(-t / 0.09)
    return (velocity * (0.6 * tone + 0.7 * rattle)).astype(np.float32)


def hihat(pitch, duration, velocity, sample_rate, rng) -> np.ndarray:
    t = _time(0.12, sample_rate)
    metal = _highpass(rng.standard_normal(t.shape), 3) * np.exp(-t / 0.025)
    return (0.5 * velocity * metal).astype(np.float32)


def tom(pitch, duration, velocity, sample_rate, rng) -> np.ndarray:
    t = _time(0.5, sample_rate)
    base = midi_to_hz(pitch)
    freq = base * (1.0 + 0.5 * np.exp(-t / 0.03))
    body = np.sin(2 * np.pi * np.cumsum(freq) / sample_rate) * np.exp(-t / 0.2)
    return (velocity * body).astype(np.float32)


def _partials(
    pitch: float, seconds: float, sample_rate: int, amplitudes: np.ndarray,
    decays: np.ndarray, detune: float = 0.0, vibrato: float = 0.0,
) -> np.ndarray:
    t = _time(seconds, sample_rate)
    f0 = midi_to_hz(pitch) * (1.0 + detune)
    wobble = 1.0 + vibrato * np.sin(2 * np.pi * 5.5 * t) * np.clip(t / 0.3, 0, 1)
    phase = 2 * np.pi * np.cumsum(f0 * wobble) / sample_rate
    out = np.zeros_like(t)
    nyquist = sample_rate / 2
    for n, (amp, decay) in enumerate(zip(amplitudes, decays, strict=True), start=1):
        if n * f0 >= nyquist * 0.9:
            break
        out += amp * np.sin(n * phase) * np.exp(-t / decay)
    return out


def bass(pitch, duration, velocity, sample_rate, rng) -> np.ndarray:
    n = np.arange(1, 9)
    note = _partials(pitch, duration + 0.05, sample_rate, 1.0 / n**1.3, 1.5 / n)
    return (0.6 * velocity * _release(note, duration, sample_rate, 0.05)).astype(np.float32)


def keys(pitch, duration, velocity, sample_rate, rng) -> np.ndarray:
    n = np.arange(1, 7)
    note = _partials(pitch, duration + 0.3, sample_rate, 1.0 / n**2, 2.0 / n)
    return (0.35 * velocity * _release(note, duration, sample_rate, 0.3)).astype(np.float32)


def guitar(pitch, duration, velocity, sample_rate, rng) -> np.ndarray:
    n = np.arange(1, 13)
    amps = np.abs(np.sin(np.pi * n * 0.18)) / n  # plucked near the bridge
    note = _partials(pitch, duration + 0.1, sample_rate, amps, 0.8 / n**0.7)
    return (0.5 * velocity * _release(note, duration, sample_rate, 0.1)).astype(np.float32)


def lead(pitch, duration, velocity, sample_rate, rng) -> np.ndarray:
    n = np.arange(1, 16)
    note = _partials(
        pitch, duration + 0.15, sample_rate, 1.0 / n, np.full(n.shape, 4.0),
        detune=float(rng.uniform(-0.002, 0.002)), vibrato=0.006,
    )
    t = np.arange(note.shape[0]) / sample_rate
    attack = np.clip(t / 0.02, 0.0, 1.0)
    return (0.3 * velocity * attack * _release(note, duration, sample_rate, 0.15)).astype(
        np.float32
    )


#: The procedural voice of each role.
VOICES: dict[str, Voice] = {
    "kick": kick,
    "snare": snare,
    "hihat": hihat,
    "tom": tom,
    "bass": bass,
    "keys": keys,
    "guitar": guitar,
    "lead": lead,
}
