"""Instruments played from recorded one-shot samples, when the machine has them.

The samples come from Debian's ``sonic-pi-samples`` package (CC0 recordings
of drums, basses, a guitar and others), found in
``/usr/share/sonic-pi/samples`` or in the folder named by the environment
variable ``CONSOLE_SAMPLES_DIR``. Pitched samples are transposed by playback
rate, as a hardware sampler does.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import attrs
import numpy as np
import soundfile as sf

from console.data.instruments import Voice

SAMPLES_ENV = "CONSOLE_SAMPLES_DIR"
DEFAULT_DIRS = (Path("/usr/share/sonic-pi/samples"),)

# Per role: (file stem, MIDI pitch of the recording or None for unpitched hits).
# The pitches were measured from the recordings' spectra.
CANDIDATES: dict[str, tuple[tuple[str, float | None], ...]] = {
    "kick": (("drum_heavy_kick", None), ("drum_bass_hard", None), ("bd_haus", None),
             ("bd_tek", None), ("bd_fat", None)),
    "snare": (("drum_snare_hard", None), ("sn_dolf", None), ("sn_generic", None),
              ("elec_snare", None)),
    "hihat": (("drum_cymbal_closed", None), ("drum_cymbal_pedal", None)),
    "tom": (("drum_tom_lo_hard", 42.0), ("drum_tom_mid_hard", 46.0), ("drum_tom_hi_hard", 51.0)),
    "bass": (("bass_woodsy_c", 36.0), ("bass_thick_c", 36.0), ("bass_hard_c", 36.0)),
    "guitar": (("guit_e_fifths", 40.0),),
    "keys": (("elec_bell", 60.0),),
    "lead": (("ambi_glass_hum", 57.0),),
}


def samples_dir() -> Path | None:
    """The folder of sonic-pi samples on this machine, or ``None``."""
    env = os.environ.get(SAMPLES_ENV)
    for folder in ([Path(env)] if env else []) + list(DEFAULT_DIRS):
        if folder.is_dir() and any(folder.glob("*.flac")):
            return folder
    return None


@lru_cache(maxsize=64)
def _load(path: Path) -> tuple[np.ndarray, int]:
    data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    mono = data.mean(axis=1)
    return mono / (np.abs(mono).max() + 1e-9), int(rate)


@attrs.frozen
class SampledVoice:
    """A recorded note or hit, transposed to each note's pitch (unpitched hits stay put)."""

    path: Path
    root_pitch: float | None

    def __call__(self, pitch, duration, velocity, sample_rate, rng) -> np.ndarray:
        audio, rate = _load(self.path)
        speed = rate / sample_rate
        if self.root_pitch is not None:
            speed *= 2.0 ** ((pitch - self.root_pitch) / 12.0)
        positions = np.arange(0.0, audio.shape[0] - 1, speed)
        note = np.interp(positions, np.arange(audio.shape[0]), audio)
        if self.root_pitch is not None:  # a held note ends with the key
            tail = int(0.05 * sample_rate)
            end = min(note.shape[0], int(duration * sample_rate) + tail)
            note = note[:end]
            fade = np.clip((end - np.arange(end)) / tail, 0.0, 1.0)
            note = note * fade
        return (velocity * note).astype(np.float32)


def sampled_voice(role: str, rng: np.random.Generator, folder: Path | None = None) -> Voice | None:
    """A random recorded voice for ``role``, or ``None`` where no sample for it is present."""
    folder = folder or samples_dir()
    if folder is None:
        return None
    present = [(stem, pitch) for stem, pitch in CANDIDATES.get(role, ())
               if (folder / f"{stem}.flac").is_file()]
    if not present:
        return None
    stem, pitch = present[int(rng.integers(len(present)))]
    return SampledVoice(folder / f"{stem}.flac", pitch)
