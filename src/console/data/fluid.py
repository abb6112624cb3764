"""Rendering a part with FluidSynth from a SoundFont of recorded instruments.

General MIDI SoundFonts (Debian's fluid-soundfont-gm, musescore-general-soundfont,
timgm6mb-soundfont) and drum-kit SoundFonts (avldrums.lv2) hold multi-sampled
recordings of real instruments; FluidSynth plays them as a sampler would. Each
part is rendered alone, dry (FluidSynth's own reverb and chorus off), in 32-bit
float so nothing clips, and folded to mono, or kept as a stereo stem.

FluidSynth is optional: ``pip install pyfluidsynth`` plus the system library
(Debian ``fluidsynth``). :func:`fluidsynth_available` says whether it is here.
"""

from __future__ import annotations

import ctypes
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from console.data.arrangement import Note

#: MIDI channel 10 (index 9) plays percussion in General MIDI.
DRUM_CHANNEL = 9
MELODIC_CHANNEL = 0
#: Seconds rendered after the last note ends, so releases and cymbals ring out.
TAIL_SECONDS = 1.5


@lru_cache(maxsize=1)
def _binding() -> tuple[Any, Any] | None:
    """The pyfluidsynth module and a float writer, or ``None`` when either is missing."""
    try:
        import fluidsynth  # type: ignore[import-not-found]
    except (ImportError, OSError):
        return None
    write_float = fluidsynth.cfunc(
        "fluid_synth_write_float", ctypes.c_int,
        ("synth", ctypes.c_void_p, 1), ("len", ctypes.c_int, 1),
        ("lout", ctypes.c_void_p, 1), ("loff", ctypes.c_int, 1), ("lincr", ctypes.c_int, 1),
        ("rout", ctypes.c_void_p, 1), ("roff", ctypes.c_int, 1), ("rincr", ctypes.c_int, 1),
    )
    if write_float is None:
        return None
    return fluidsynth, write_float


def fluidsynth_available() -> bool:
    return _binding() is not None


def velocity_to_midi(velocity: float) -> int:
    return int(np.clip(round(1 + 126 * velocity), 1, 127))


class SoundFontPlayer:
    """One SoundFont loaded into one FluidSynth instance at one sample rate."""

    def __init__(self, path: str | Path, sample_rate: int) -> None:
        binding = _binding()
        if binding is None:
            raise RuntimeError(
                "FluidSynth is not available: install Debian's fluidsynth and "
                "`pip install pyfluidsynth`."
            )
        fluidsynth, self._write_float = binding
        self.path = Path(path)
        self.sample_rate = int(sample_rate)
        self._synth = fluidsynth.Synth(gain=0.5, samplerate=float(sample_rate))
        self._synth.setting("synth.reverb.active", 0)
        self._synth.setting("synth.chorus.active", 0)
        self._sfid = self._synth.sfload(str(self.path))
        if self._sfid < 0:
            raise RuntimeError(f"FluidSynth cannot load the SoundFont {self.path}.")

    def presets(self, bank: int) -> dict[int, str]:
        """``{program: name}`` of the presets in ``bank``."""
        names = {}
        for program in range(128):
            name = self._synth.sfpreset_name(self._sfid, bank, program)
            if name:
                names[program] = name
        return names

    def _render(self, frames: int) -> np.ndarray:
        buffer = np.zeros(2 * frames, dtype=np.float32)
        pointer = buffer.ctypes.data_as(ctypes.c_void_p)
        self._write_float(self._synth.synth, frames, pointer, 0, 2, pointer, 1, 2)
        return buffer.reshape(frames, 2)

    def play(
        self, notes: Sequence[Note], frames: int, bank: int, program: int, drums: bool,
        stereo: bool = False,
    ) -> np.ndarray:
        """Float64 audio of ``notes`` on one preset, ``frames`` samples long.

        Mono ``(frames,)``, or ``(2, frames)`` with ``stereo``: the preset's own image
        (stereo samples, each key's pan), as a stereo microphone pair would take it.
        """
        channel = DRUM_CHANNEL if drums else MELODIC_CHANNEL
        synth = self._synth
        synth.system_reset()
        synth.program_select(channel, self._sfid, bank, program)
        events: list[tuple[int, int, int, int]] = []  # (frame, order, key, velocity)
        for note in notes:
            start = int(round(note.start * self.sample_rate))
            if start >= frames:
                continue
            stop = max(start + 1, int(round((note.start + note.duration) * self.sample_rate)))
            key = int(round(note.pitch))
            events.append((start, 1, key, velocity_to_midi(note.velocity)))
            events.append((stop, 0, key, 0))  # note-offs first at a shared frame
        events.sort()
        out = np.zeros((frames, 2), dtype=np.float32)
        position = 0
        for frame, _, key, velocity in events:
            frame = min(frame, frames)
            if frame > position:
                out[position:frame] = self._render(frame - position)
                position = frame
            if position >= frames:
                break
            if velocity:
                synth.noteon(channel, key, velocity)
            else:
                synth.noteoff(channel, key)
        if position < frames:
            out[position:] = self._render(frames - position)
        synth.all_sounds_off(channel)
        if stereo:
            return out.T.astype(np.float64)
        return out.mean(axis=1).astype(np.float64)

    def close(self) -> None:
        synth, self._synth = getattr(self, "_synth", None), None
        if synth is not None:
            synth.delete()

    def __del__(self) -> None:  # a session's player goes with the session (its SoundFont too)
        self.close()


def soundfont_player(path: str, sample_rate: int) -> SoundFontPlayer:
    """A fresh player for one session.

    FluidSynth keeps state from one part to the next (it starts notes on its own
    64-frame blocks, and voices leave traces), so a player shared between sessions
    made the same seed sound a little different after other songs; a session gets a
    player of its own, and one seed plays one song (loading costs 0.04 s for
    TimGM6mb, 0.6 s for FluidR3).
    """
    return SoundFontPlayer(path, sample_rate)
