"""Instruments played from recorded one-shot samples, when the machine has them.

A :class:`SampleSet` describes one collection of recorded notes and hits: the
folders it may be installed in, its files' extension and, per role, the
recordings that can play it with their measured root pitch. Three sets exist,
each a source of :mod:`console.data.sources`:

- ``sonic-pi``: Debian's ``sonic-pi-samples`` (CC0 recordings of drums,
  basses, a guitar and others), in ``/usr/share/sonic-pi/samples`` or in the
  folder named by the environment variable ``CONSOLE_SAMPLES_DIR``;
- ``lmms``: the one-shots of Debian's ``lmms-common`` (drums, acoustic and
  electric instruments, strings, pads and choirs), in
  ``/usr/share/lmms/samples`` or the folder named by ``CONSOLE_LMMS_SAMPLES_DIR``;
- ``exadrums``: the one acoustic kit Debian's ``exadrums`` ships (kick, snare,
  hi-hat, two toms, a crash and a ride, recorded by Phill Mason; BSD-3-Clause), in
  ``/usr/share/exadrums`` or the folder named by ``CONSOLE_EXADRUMS_SAMPLES_DIR``.

A table's key is a role, or ``role:piece`` for a kit piece with recordings of its
own: a part whose file is ``piece.wav`` plays those (a crash and a ride are both
``overhead``, but a kit has one recording of each).

Pitched samples are transposed by playback rate, as a hardware sampler does.
Files soundfile cannot read (a few of lmms's ``.ogg`` files are really WAV
files with a header libsndfile rejects) are never chosen.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import attrs
import numpy as np
import soundfile as sf

from console.data.instruments import Voice

SAMPLES_ENV = "CONSOLE_SAMPLES_DIR"
DEFAULT_DIRS = (Path("/usr/share/sonic-pi/samples"),)
LMMS_ENV = "CONSOLE_LMMS_SAMPLES_DIR"
LMMS_DIRS = (Path("/usr/share/lmms/samples"),)
EXADRUMS_ENV = "CONSOLE_EXADRUMS_SAMPLES_DIR"
EXADRUMS_DIRS = (Path("/usr/share/exadrums"),)

#: Roles whose recordings are transposed to each note; the others are hits played as recorded.
PITCHED_ROLES = frozenset(
    {"tom", "bass", "keys", "guitar", "strings", "lead", "brass", "pad", "vocals"}
)

Candidates = dict[str, tuple[tuple[str, float | None], ...]]

# Per role: (file stem, MIDI pitch of the recording or None for unpitched hits).
# The pitches were measured from the recordings' spectra.
CANDIDATES: Candidates = {
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

# Per role: (path under the samples folder without ".ogg", MIDI root pitch or None).
# Measured by scripts/measure_sample_pitches.py (run it to print this table again):
# the root is the median of a YIN pitch track over the recording's sustained part;
# for the guitar's power chord (G3 C4 G4), whose common period C2 nothing plays,
# the chord's root in the octave of its lowest note. The script's survey also
# counts onsets and held pitches. Left out: phrases and loops (latin_guitar01-03,
# 12 to 27 onsets; latin_brass01, three stabs; church_organ01/02, arpeggios),
# triads, which would stack a triad on every note of a chord (e_piano_accord01/02,
# e_organ01, heaven_strings01), a double stop (violin_double_stop01), recordings a
# sampler would play two octaves or more away from the role's register (cello01 at
# D2 for strings around F4, space_strings01-03 at C2 for pads), synth basses (two
# slapped bass notes are recorded), and files soundfile cannot open (kick04 and
# harpsichord01 are WAV files named .ogg, with a header libsndfile rejects).
LMMS_CANDIDATES: Candidates = {
    "kick": tuple((f"drums/{stem}", None) for stem in (
        "bassdrum01", "bassdrum02", "bassdrum03", "bassdrum04", "kick01", "kick02", "kick03",
        "kick_hard01", "kick_hiphop01", "kick_soft02")),
    "snare": tuple((f"drums/{stem}", None) for stem in (
        "snare01", "snare02", "snare03", "snare04", "snare05", "snare06", "snare07",
        "snare_acoustic01", "snare_muffled01", "snare_muffled02", "snare_hiphop01")),
    "hihat": tuple((f"drums/hihat_closed0{i}", None) for i in range(1, 6)),
    "tom": (("drums/tom01", 50.8), ("drums/tom04", 54.8), ("drums/tom05", 46.0),
            ("drums/tom_hi01", 51.7), ("drums/tom_mid01", 45.1), ("drums/tom_low01", 43.0)),
    "overhead": (("drums/crash01", None), ("drums/crash02", None), ("drums/ride01", None),
                 ("drums/ride02", None)),
    "percussion": tuple((f"drums/{stem}", None) for stem in (
        "shaker01", "shaker02", "shaker03", "clap01", "clap02", "clap03", "clap04", "clav01",
        "clav02", "rim01", "sidestick01", "wood01")),
    "bass": (("instruments/bassslap01", 37.9), ("instruments/bassslap02", 36.0)),
    "keys": (("instruments/piano01", 60.1), ("instruments/piano02", 48.0),
             ("instruments/church_organ03", 57.0)),
    "guitar": (("instruments/steel_guitar01", 59.9),
               ("instruments/steel_guitar_slight_distorted01", 59.9),
               ("instruments/steel_guitar_medium_distorted01", 59.9),
               ("instruments/steel_guitar_heavy_distorted01", 59.9)),
    "strings": (("instruments/violin_fingered01", 66.8), ("stringsnpads/strings01", 60.0),
                ("stringsnpads/orion_string01", 60.0)),
    "lead": (("instruments/flute01", 80.9), ("instruments/trumpet01", 68.9)),
    "brass": (("instruments/trumpet01", 68.9),),
    "pad": (("stringsnpads/juno_pad01", 72.1), ("stringsnpads/strings01", 60.0)),
    "vocals": (("stringsnpads/chorus01", 72.0), ("stringsnpads/chorus02", 57.0)),
}

# The exadrums kit, one recording per piece (Default.xml names them). The two toms' roots
# were measured by scripts/measure_sample_pitches.py (YIN median over the sustained part:
# Tom01 44.9, Tom03 36.1; the strongest partial agrees within half a semitone, and both
# fall as the head decays, as a tom's does). Tom01 is the kit's rack tom and Tom03 its
# floor tom: a session's high and middle toms play the first, its low or floor tom the
# second, each transposed to its note. The ride plays its edge or its bell. No
# percussion is recorded: percussion parts take the hi-hat, their stand-in.
EXADRUMS_CANDIDATES: Candidates = {
    "kick": (("BD_Acou_01", None),),
    "snare": (("Snr_Acou_01", None),),
    "hihat": (("HiHat", None),),
    "tom": (("Tom01", 44.9), ("Tom03", 36.1)),
    "tom:tom_hi": (("Tom01", 44.9),),
    "tom:tom_mid": (("Tom01", 44.9),),
    "tom:tom_lo": (("Tom03", 36.1),),
    "tom:tom_floor": (("Tom03", 36.1),),
    "overhead": (("Crash_High", None), ("RideEdge", None), ("RideBell", None)),
    "overhead:crash": (("Crash_High", None),),
    "overhead:ride": (("RideEdge", None), ("RideBell", None)),
}


def candidate_role(key: str) -> str:
    """The role of a table key: ``tom`` for ``tom`` and for ``tom:tom_floor``."""
    return key.partition(":")[0]


@attrs.frozen
class SampleSet:
    """One collection of one-shot recordings: where it lives and what plays each role."""

    name: str
    #: The folders it may be installed in, read at each call (so tests can patch them).
    dirs: Callable[[], tuple[Path, ...]]
    #: An environment variable naming a folder that takes precedence, or ``None``.
    env: str | None
    extension: str
    #: Per role or ``role:piece``: (path of a file under the folder without the extension,
    #: root pitch or None).
    candidates: Candidates
    #: Folders of the installed collection that hold loops, phrases or effects, never used.
    skip_folders: tuple[str, ...] = ()

    def folder(self) -> Path | None:
        """The folder of this set on this machine, where it holds a readable sample, or ``None``."""
        env = os.environ.get(self.env) if self.env else None
        for folder in ([Path(env)] if env else []) + list(self.dirs()):
            if folder.is_dir() and any(
                _readable(folder / f"{stem}{self.extension}")
                for entries in self.candidates.values() for stem, _ in entries
            ):
                return folder
        return None

    def present(self, role: str, folder: Path) -> list[tuple[Path, float | None]]:
        """The recordings for ``role`` (a table key) in ``folder`` that soundfile can read."""
        found = ((folder / f"{stem}{self.extension}", pitch)
                 for stem, pitch in self.candidates.get(role, ()))
        return [(path, pitch) for path, pitch in found if _readable(path)]


SONIC_PI = SampleSet("sonic-pi", lambda: DEFAULT_DIRS, SAMPLES_ENV, ".flac", CANDIDATES)
LMMS = SampleSet(
    "lmms", lambda: LMMS_DIRS, LMMS_ENV, ".ogg", LMMS_CANDIDATES,
    skip_folders=("drumsynth", "beats", "bassloops", "effects", "misc", "shapes", "waveforms"),
)
EXADRUMS = SampleSet("exadrums", lambda: EXADRUMS_DIRS, EXADRUMS_ENV, ".wav",
                     EXADRUMS_CANDIDATES)
SAMPLE_SETS: dict[str, SampleSet] = {s.name: s for s in (SONIC_PI, LMMS, EXADRUMS)}


def samples_dir() -> Path | None:
    """The folder of sonic-pi samples on this machine, or ``None``."""
    return SONIC_PI.folder()


def _readable(path: Path) -> bool:
    """Whether soundfile can open ``path`` and finds samples in it."""
    try:
        stat = path.stat()
    except OSError:
        return False
    return _opens(path, stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=1024)
def _opens(path: Path, mtime_ns: int, size: int) -> bool:  # the file's version is the key
    try:
        return sf.info(str(path)).frames > 0
    except (sf.LibsndfileError, RuntimeError):
        return False


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
        if self.root_pitch is None:
            return (velocity * np.interp(positions, np.arange(audio.shape[0]), audio)).astype(
                np.float32
            )
        # a held note ends with the key: only the part that sounds is resampled
        tail = int(0.05 * sample_rate)
        end = min(positions.shape[0], int(duration * sample_rate) + tail)
        note = np.interp(positions[:end], np.arange(audio.shape[0]), audio)
        fade = np.clip((end - np.arange(end)) / tail, 0.0, 1.0)
        return (velocity * (note * fade)).astype(np.float32)


def sampled_voice(
    role: str, rng: np.random.Generator, folder: Path | None = None,
    sample_set: SampleSet = SONIC_PI,
) -> Voice | None:
    """A random recording of ``sample_set`` for ``role``, or ``None`` where it has none here.

    ``folder`` defaults to where the set is installed. Draws one integer from ``rng``
    when there is a recording to choose.
    """
    folder = folder or sample_set.folder()
    if folder is None:
        return None
    present = sample_set.present(role, folder)
    if not present:
        return None
    path, pitch = present[int(rng.integers(len(present)))]
    return SampledVoice(path, pitch)
