"""Rendering a part with TiMidity++ from a set of GUS patches (Debian's freepats).

FreePats is a General MIDI set of recorded instrument samples in Gravis
Ultrasound patch files, a different sampler format from the SoundFonts
FluidSynth plays and recorded independently of them. TiMidity++ (Debian
``timidity``) is the sampler that plays it; each part is written to a small
Standard MIDI File and rendered alone, mono, dry (TiMidity's reverb and
chorus off, leading silence kept so every stem starts with the song), at
24 bits with headroom, so a console stem comes out as a recording of one
instrument would.

FreePats lacks some General MIDI programs and drum keys; a part asking for
one is played by the nearest one it has (a program of the same family of
eight first); the session's metadata keeps the program the part asked for.

FreePats' drum patches are tuned like melodic ones (root C4, full keyboard
tracking), so TiMidity++ plays each drum at its key's pitch: a kick on key 35
came out two octaves down, its energy at 10-20 Hz, where no kick drum sounds.
The player therefore reads the config through a copy in which every drum
patch carries ``note=`` its own root key, so each hit sounds as recorded.
"""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import tempfile
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
import soundfile as sf

from console.data.arrangement import Note
from console.data.fluid import DRUM_CHANNEL, MELODIC_CHANNEL, velocity_to_midi

#: MIDI ticks per quarter note; with one quarter note per second a tick is 0.1 ms.
TICKS_PER_SECOND = 10_000
#: TiMidity's output amplification in percent: headroom so a chord of loud notes never clips.
AMPLIFICATION = 40


def timidity_binary() -> str | None:
    return shutil.which("timidity")


def _vlq(value: int) -> bytes:
    """A MIDI variable-length quantity."""
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


def midi_file(notes: Sequence[Note], program: int, drums: bool) -> bytes:
    """A one-track Standard MIDI File that plays ``notes`` on one channel and program."""
    channel = DRUM_CHANNEL if drums else MELODIC_CHANNEL
    events: list[tuple[int, int, bytes]] = []  # (tick, order, message); note-offs first
    for note in notes:
        start = int(round(note.start * TICKS_PER_SECOND))
        stop = max(start + 1, int(round((note.start + note.duration) * TICKS_PER_SECOND)))
        key = int(np.clip(round(note.pitch), 0, 127))
        events.append((start, 1, bytes([0x90 | channel, key, velocity_to_midi(note.velocity)])))
        events.append((stop, 0, bytes([0x80 | channel, key, 0])))
    events.sort()
    track = _vlq(0) + bytes([0xFF, 0x51, 3]) + (1_000_000).to_bytes(3, "big")  # 1 s a beat
    if not drums:
        track += _vlq(0) + bytes([0xC0 | channel, program & 0x7F])
    last = 0
    for tick, _, message in events:
        track += _vlq(tick - last) + message
        last = tick
    track += _vlq(0) + bytes([0xFF, 0x2F, 0x00])
    header = b"MThd" + struct.pack(">IHHH", 6, 0, 1, TICKS_PER_SECOND)
    return header + b"MTrk" + struct.pack(">I", len(track)) + track


def _patch_numbers(config: Path) -> tuple[set[int], set[int]]:
    """The melodic programs (bank 0) and drum keys (drumset 0) a TiMidity config maps."""
    programs: set[int] = set()
    keys: set[int] = set()
    section: set[int] | None = None
    for line in config.read_text(encoding="utf-8", errors="replace").splitlines():
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        if words[0] in ("bank", "drumset"):
            section = None
            if len(words) > 1 and words[1] == "0":
                section = programs if words[0] == "bank" else keys
        elif section is not None and re.fullmatch(r"\d+", words[0]):
            section.add(int(words[0]))
    return programs, keys


#: Where a GUS patch's first sample header starts, and its root frequency within it.
_GUS_SAMPLE_HEADER = 129 + 63 + 47
_GUS_ROOT_FREQUENCY = slice(30, 34)


def patch_root_key(patch: Path) -> int | None:
    """The MIDI key of a GUS patch's recorded pitch (its first sample's root), if readable."""
    try:
        with open(patch, "rb") as file:
            header = file.read(_GUS_SAMPLE_HEADER + 96)
    except OSError:
        return None
    if len(header) < _GUS_SAMPLE_HEADER + 96 or not header.startswith(b"GF1PATCH"):
        return None
    millihertz = struct.unpack("<I", header[_GUS_SAMPLE_HEADER:][_GUS_ROOT_FREQUENCY])[0]
    if millihertz <= 0:
        return None
    return int(round(69 + 12 * np.log2(millihertz / 1000 / 440)))


def drums_at_recorded_pitch(config: Path, out: Path) -> Path:
    """Write a copy of ``config`` in which each drumset patch plays at its root key.

    Lines that already give ``note=`` and patches whose root cannot be read are
    kept as they are; the copy names the original's folder, so relative patch
    paths still resolve.
    """
    lines = config.read_text(encoding="utf-8", errors="replace").splitlines()
    folders = [config.parent]
    drums = False
    copied = [f"dir {config.parent}"]
    for line in lines:
        words = line.split("#", 1)[0].split()
        if words and words[0] == "dir" and len(words) > 1:
            folders.insert(0, Path(words[1]))
        if words and words[0] in ("bank", "drumset"):
            drums = words[0] == "drumset"
        elif drums and len(words) > 1 and re.fullmatch(r"\d+", words[0]) and not any(
            w.startswith("note=") for w in words
        ):
            name = words[1] if words[1].endswith(".pat") else words[1] + ".pat"
            patch = next((f / name for f in folders if (f / name).is_file()), None)
            root = patch_root_key(patch) if patch is not None else None
            if root is not None:
                line = f"{line.split('#', 1)[0].rstrip()} note={root}"
        copied.append(line)
    out.write_text("\n".join(copied) + "\n", encoding="utf-8")
    return out


def _nearest(number: int, available: set[int], family: int = 1) -> int:
    """``number`` if available, else the nearest available one, preferring its family."""
    if number in available or not available:
        return number
    group = [n for n in available if n // family == number // family] if family > 1 else []
    return min(group or available, key=lambda n: (abs(n - number), n))


class PatchSetPlayer:
    """TiMidity++ with one patch-set config at one sample rate."""

    def __init__(self, config: str | Path, sample_rate: int) -> None:
        binary = timidity_binary()
        if binary is None:
            raise RuntimeError("TiMidity++ is not installed: install Debian's timidity.")
        self.binary = binary
        self.config = Path(config)
        self.sample_rate = int(sample_rate)
        self.programs, self.drum_keys = _patch_numbers(self.config)
        if not self.programs and not self.drum_keys:
            raise RuntimeError(f"{self.config} maps no patches in bank 0 or drumset 0.")
        self._folder = tempfile.TemporaryDirectory(prefix="console-timidity-cfg-")
        self.played_config = drums_at_recorded_pitch(
            self.config, Path(self._folder.name) / self.config.name
        )

    def program_for(self, program: int) -> int:
        """The program that plays a part asking for General MIDI ``program``."""
        return _nearest(program, self.programs, family=8)

    def key_for(self, key: int) -> int:
        return _nearest(key, self.drum_keys)

    def play(
        self, notes: Sequence[Note], frames: int, program: int, drums: bool
    ) -> np.ndarray:
        """Mono float64 audio of ``notes``, ``frames`` samples long."""
        if drums:
            notes = [
                Note(n.start, n.duration, self.key_for(int(round(n.pitch))), n.velocity)
                for n in notes
            ]
        else:
            program = self.program_for(program)
        notes = [n for n in notes if n.start * self.sample_rate < frames]
        out = np.zeros(frames)
        if not notes:
            return out
        with tempfile.TemporaryDirectory(prefix="console-timidity-") as folder:
            midi, wav = Path(folder) / "part.mid", Path(folder) / "part.wav"
            midi.write_bytes(midi_file(notes, program, drums))
            subprocess.run(
                [self.binary, "-c", str(self.played_config), "-s", str(self.sample_rate), "-Ow",
                 "--output-mono", "--output-24bit", "--preserve-silence", "-EFreverb=d",
                 "-EFchorus=d", f"-A{AMPLIFICATION}", "-o", str(wav), str(midi)],
                check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            )
            audio, rate = sf.read(str(wav), dtype="float64", always_2d=True)
        if rate != self.sample_rate:
            raise RuntimeError(f"TiMidity++ wrote {rate} Hz, not {self.sample_rate} Hz.")
        audio = audio.mean(axis=1)[:frames]
        out[: len(audio)] = audio
        return out


@lru_cache(maxsize=4)
def patch_set_player(config: str, sample_rate: int) -> PatchSetPlayer:
    return PatchSetPlayer(config, sample_rate)

