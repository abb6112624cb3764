"""Synthetic multitrack sessions: arranged, played, levelled at random and mixed by rule.

A session is written in the plain folder layout (see :mod:`console.data.folder`)::

    OUT/stems/kick.wav ... lead.wav   mono stems at random input levels
    OUT/mix.wav                       the engineer's stereo reference mix
    OUT/params.json                   the engineer's settings (``console render`` input)
    OUT/session.json                  seed, tempo, key, sources and input levels

Instruments are played from recorded samples where the machine has them
(see :mod:`console.data.samples`) and synthesised otherwise.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import attrs
import numpy as np
import torch

from console.data.arrangement import Arrangement, Note, make_arrangement
from console.data.engineer import engineer_mix
from console.data.folder import write_song_folder
from console.data.instruments import VOICES, Voice
from console.data.samples import sampled_voice, samples_dir
from console.mix_params import MixParams

Source = Literal["auto", "samples", "synth"]
#: Stems are written with a random input level in this range (dB of peak below full scale).
INPUT_PEAK_DB = (-30.0, -3.0)


@attrs.frozen
class Session:
    """A rendered session in memory: mono ``stems (K, T)``, ``mix (2, T)`` and settings."""

    stems: torch.Tensor
    mix: torch.Tensor
    names: list[str]
    roles: list[str]
    sources: list[str]
    input_peak_db: list[float]
    params: MixParams
    arrangement: Arrangement
    sample_rate: int
    seed: int


def play(notes: list[Note], voice: Voice, frames: int, sample_rate: int,
         rng: np.random.Generator) -> np.ndarray:
    """Render ``notes`` with ``voice`` into a mono buffer of ``frames`` samples."""
    out = np.zeros(frames, dtype=np.float64)
    for note in notes:
        start = int(note.start * sample_rate)
        if start >= frames:
            continue
        audio = voice(note.pitch, note.duration, note.velocity, sample_rate, rng)
        end = min(frames, start + audio.shape[0])
        out[start:end] += audio[: end - start]
    return out


def _voice_for(role: str, source: Source, rng: np.random.Generator) -> tuple[Voice, str]:
    if source != "synth":
        voice = sampled_voice(role, rng)
        if voice is not None:
            return voice, f"sample:{Path(voice.path).stem}"  # type: ignore[attr-defined]
        if source == "samples":
            raise FileNotFoundError(
                f"No recorded sample for the role {role!r}: install Debian's sonic-pi-samples "
                f"or use source='auto' to synthesise what is missing."
            )
    return VOICES[role], "synth"


def make_session(
    seed: int = 0,
    duration: float = 8.0,
    sample_rate: int = 44100,
    source: Source = "auto",
    spec: str | None = None,
) -> Session:
    """Arrange, play and mix one song; the same arguments always give the same session."""
    if duration <= 0:
        raise ValueError(f"duration must be positive, got {duration}.")
    if source == "samples" and samples_dir() is None:
        raise FileNotFoundError(
            "No sample folder found: install Debian's sonic-pi-samples or set "
            "CONSOLE_SAMPLES_DIR, or use source='auto' or 'synth'."
        )
    rng = np.random.default_rng(seed)
    arrangement = make_arrangement(rng, duration)
    frames = int(round(duration * sample_rate))
    tracks, sources, levels = [], [], []
    for role in arrangement.roles:
        voice, origin = _voice_for(role, source, rng)
        audio = play(arrangement.parts[role], voice, frames, sample_rate, rng)
        peak_db = float(rng.uniform(*INPUT_PEAK_DB))
        peak = np.abs(audio).max()
        if peak > 0:
            audio = audio * (10.0 ** (peak_db / 20.0) / peak)
        tracks.append(torch.from_numpy(audio.astype(np.float32)))
        sources.append(origin)
        levels.append(round(peak_db, 2))
    stems = torch.stack(tracks)
    roles = arrangement.roles
    names = [f"{role}.wav" for role in roles]
    mix, params = engineer_mix(stems, names, roles, sample_rate, spec=spec, seed=seed)
    return Session(stems, mix, names, roles, sources, levels, params, arrangement,
                   sample_rate, seed)


def write_session(
    out_dir: str | Path,
    seed: int = 0,
    duration: float = 8.0,
    sample_rate: int = 44100,
    source: Source = "auto",
    spec: str | None = None,
) -> Session:
    """Render a session with :func:`make_session` and write it in the plain folder layout."""
    out_dir = Path(out_dir)
    session = make_session(seed, duration, sample_rate, source, spec)
    info = {
        "seed": seed,
        "duration_s": duration,
        "sample_rate": sample_rate,
        "tempo_bpm": round(session.arrangement.tempo_bpm, 2),
        "key_midi": session.arrangement.key_midi,
        "scale": session.arrangement.scale,
        "spec": session.params.spec,
        "tracks": [
            {"name": n, "role": r, "source": s, "input_peak_db": lvl}
            for n, r, s, lvl in zip(
                session.names, session.roles, session.sources, session.input_peak_db, strict=True
            )
        ],
    }
    write_song_folder(out_dir, session.names, session.stems, session.mix, session.params, info,
                      sample_rate)
    return session
