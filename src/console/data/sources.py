"""Where the instruments of a generated session come from: recorded sources and synthesis.

A source plays a :class:`~console.data.band.Part` into mono audio. Each
recorded source is one openly licensed set of recordings that Debian
installs (``opl3`` is the exception: the OPL3 chip's FM synthesis sampled
into a SoundFont); a session is played by one source only, so a benchmark
can train on some sources and test on one it never heard. Sources that share
recordings share a ``family`` (MuseScore General is derived from FluidR3),
and leave-one-source-out splits hold out whole families.

Never listed here: Debian's ``hydrogen-drumkits``, kept out of all training
and development data because an independent evaluation uses it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import attrs
import numpy as np

from console.data.band import Part
from console.data.fluid import fluidsynth_available, soundfont_player
from console.data.instruments import VOICES, Voice
from console.data.samples import EXADRUMS, LMMS, SONIC_PI, SampleSet, sampled_voice
from console.data.timidity import patch_set_player, timidity_binary

SF2 = Path("/usr/share/sounds/sf2")
SF3 = Path("/usr/share/sounds/sf3")

#: Roles a procedural voice or a sample set's recording can stand in for, when they have none.
STAND_IN = {
    "overhead": "hihat", "percussion": "hihat", "strings": "keys", "pad": "keys",
    "brass": "lead", "vocals": "lead",
}
#: Drum kits of a General MIDI SoundFont (bank 128): Standard, Room, Power, Jazz, Brush.
GM_KITS = (0, 8, 16, 32, 40)


@attrs.frozen
class Source:
    """One set of recorded (or synthesised) instruments that can play parts."""

    name: str
    family: str
    description: str
    #: The files it needs; it is installed when the first of them exists.
    files: tuple[Path, ...] = ()
    plays_melodic: bool = True
    drum_bank: int = 128
    drum_kits: tuple[int, ...] = GM_KITS
    #: The sampler that plays ``files``: FluidSynth (SoundFonts) or TiMidity++ (GUS patches).
    player: str = "fluidsynth"
    #: The one-shot recordings it plays instead, transposed by playback rate, or ``None``.
    samples: SampleSet | None = None

    def path(self) -> Path | None:
        return next((p for p in self.files if p.is_file()), None)

    @property
    def soundfont(self) -> bool:
        return bool(self.files) and self.player == "fluidsynth"

    def installed(self) -> bool:
        if self.samples is not None:
            return self.samples.folder() is not None
        if self.name == "procedural":
            return True
        if self.player == "timidity":
            return timidity_binary() is not None and self.path() is not None
        return fluidsynth_available() and self.path() is not None

    def can_play(self, part: Part) -> bool:
        if self.samples is not None:
            folder = self.samples.folder()
            return folder is not None and _sample_role(part, self.samples, folder) is not None
        return part.drums or self.plays_melodic


SOURCES: dict[str, Source] = {
    s.name: s
    for s in (
        Source("fluidr3", "fluidr3", "FluidR3 GM SoundFont (Debian fluid-soundfont-gm)",
               (SF2 / "FluidR3_GM.sf2",)),
        Source("musescore", "fluidr3",
               "MuseScore General SoundFont, derived from FluidR3 (Debian "
               "musescore-general-soundfont-lossless)",
               (SF2 / "MuseScore_General_Full.sf2", SF3 / "MuseScore_General.sf3")),
        Source("timgm6mb", "timgm6mb", "TimGM6mb SoundFont (Debian timgm6mb-soundfont)",
               (SF2 / "TimGM6mb.sf2",)),
        Source("avldrums", "avldrums",
               "AVL Drumkits, two multi-sampled acoustic kits (Debian avldrums.lv2)",
               (SF2 / "Black_Pearl_4_LV2.sf2", SF2 / "Red_Zeppelin_4_LV2.sf2"),
               plays_melodic=False, drum_bank=0, drum_kits=(0,)),
        Source("freepats", "freepats",
               "FreePats, a General MIDI set of recorded instruments in GUS patches, played "
               "by TiMidity++ (Debian freepats and timidity)",
               (Path("/etc/timidity/freepats.cfg"),), player="timidity"),
        Source("sonic-pi", "sonic-pi", "Sonic Pi's recorded one-shots (Debian sonic-pi-samples)",
               samples=SONIC_PI),
        Source("lmms", "lmms", "LMMS's recorded one-shot samples (Debian lmms-common)",
               samples=LMMS),
        Source("exadrums", "exadrums",
               "eXaDrums's recorded acoustic kit by Phill Mason: kick, snare, hi-hat, two "
               "toms, crash, ride (Debian exadrums)",
               samples=EXADRUMS, plays_melodic=False),
        Source("opl3", "opl3",
               "OPL-3 FM 128M, a General MIDI SoundFont of the OPL3 FM chip's sounds: "
               "synthesised, not recorded (Debian opl3-soundfont)",
               (SF2 / "OPL-3_FM_128M.sf2",)),
        Source("procedural", "procedural", "procedural synthesis (no recordings)"),
    )
}


def installed_sources() -> list[str]:
    """Names of the sources this machine can play, in :data:`SOURCES` order."""
    return [name for name, source in SOURCES.items() if source.installed()]


def get_source(name: str) -> Source:
    if name not in SOURCES:
        raise ValueError(f"Unknown source {name!r}; choose from {', '.join(SOURCES)}.")
    return SOURCES[name]


def _sample_role(part: Part, samples: SampleSet, folder: Path) -> str | None:
    """The table key whose recordings in ``folder`` play ``part``.

    Its kit piece's own (``overhead:ride`` for ``ride.wav``) where the set records the
    piece apart, else its role's, else its role's stand-in's.
    """
    piece = f"{part.role}:{Path(part.name).stem}"
    for candidate in (piece, part.role, STAND_IN.get(part.role)):
        if candidate is not None and samples.present(candidate, folder):
            return candidate
    return None


#: Plays a part: mono ``(T,)``, or ``(2, T)`` when asked for stereo and the source can.
Renderer = Callable[..., np.ndarray]


def session_renderer(
    source: Source, frames: int, sample_rate: int, rng: np.random.Generator
) -> tuple[Renderer, dict[str, object]]:
    """A function that plays parts with instruments chosen once for the session, and them.

    One drum kit (and one SoundFont file, for sources with several) serves
    every drum part of a session, as one kit is recorded in one room. The function
    takes ``stereo=True`` for a stereo stem, which only SoundFont sources can play
    (:attr:`Source.soundfont`); the others play mono.
    """
    if source.soundfont:
        files = [p for p in source.files if p.is_file()]
        if source.name == "musescore":
            files = files[:1]  # the lossless SF2 where installed, else the SF3
        path = files[int(rng.integers(len(files)))]
        player = soundfont_player(str(path), sample_rate)
        kits = [k for k in source.drum_kits if k in player.presets(source.drum_bank)] or [
            next(iter(player.presets(source.drum_bank)))
        ]
        kit = int(kits[int(rng.integers(len(kits)))])
        info: dict[str, object] = {"soundfont": path.name, "drum_kit": kit}

        def render(part: Part, stereo: bool = False) -> np.ndarray:
            if part.drums:
                return player.play(part.notes, frames, source.drum_bank, kit, drums=True,
                                   stereo=stereo)
            return player.play(part.notes, frames, 0, part.program, drums=False, stereo=stereo)

        return render, info
    if source.player == "timidity":
        patches = patch_set_player(str(source.path()), sample_rate)

        def render(part: Part, stereo: bool = False) -> np.ndarray:
            return patches.play(part.notes, frames, part.program, part.drums)

        return render, {"patch_set": str(source.path()), "player": "timidity"}
    from console.data.synthetic import play

    if source.samples is not None:
        samples = source.samples
        folder = samples.folder()
        chosen: dict[str, Voice] = {}  # one recording per role (or kit piece) per session

        def render(part: Part, stereo: bool = False) -> np.ndarray:
            role = _sample_role(part, samples, folder)
            if role not in chosen:
                chosen[role] = sampled_voice(role, rng, folder, samples)
            return play(part.notes, chosen[role], frames, sample_rate, rng)

        return render, {"samples": str(folder)}

    def render(part: Part, stereo: bool = False) -> np.ndarray:
        voice = VOICES.get(part.role) or VOICES[STAND_IN.get(part.role, "keys")]
        return play(part.notes, voice, frames, sample_rate, rng)

    return render, {}
