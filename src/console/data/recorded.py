"""Sessions played by recorded instruments from one source, levelled badly, mixed by an engineer.

Written in the plain folder layout (see :mod:`console.data.folder`)::

    OUT/stems/kick.wav ...   stems (mono, or stereo with ``stereo``), each arriving up
                             to ±20 dB from where the engineer wants it (32-bit
                             float, so nothing clips)
    OUT/mix.wav              the engineer's stereo reference mix
    OUT/params.json          the engineer's settings (``console render`` input)
    OUT/session.json         seed, source and its family, kind, tempo, the engineer's
                             style, and every track's role, instrument and input level

What varies from song to song: the source (one per session), a band or a
drum kit recorded piece by piece, 2 to 24 stems, instruments and kits, tempo,
key, length, every stem's recording level, and the engineer's style (see
:class:`~console.data.engineer.EngineerStyle`). One named engineer mixes every song
(``engineer``, the default one unless asked; see :data:`~console.data.engineer.ENGINEERS`);
``session.json`` names any other in ``engineer_name``. With ``colour_db`` every stem is
also coloured as a microphone and room colour it: a random bass and treble
shelf (see :func:`colour_stems`), so a console cannot learn one source's tone.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import attrs
import numpy as np
import torch

from console.data.band import Kind, Multitrack, Part, make_multitrack
from console.data.engineer import (
    DEFAULT_ENGINEER,
    STYLES,
    EngineerStyle,
    engineer_mix,
    get_engineer,
)
from console.data.folder import write_song_folder
from console.data.loudness import track_loudness
from console.data.sources import Source, get_source, session_renderer
from console.mix_params import MixParams
from console.stereo import check_stereo, stack_tracks, stereo_rows

#: How far from the engineer's wish a stem may be recorded, in dB either way.
INPUT_SPREAD_DB = 20.0
#: Share of band sources' sessions that are a drum kit alone.
DRUM_SESSIONS = 0.35
#: Corner frequencies of the recording-colour shelves (see :func:`colour_stems`).
COLOUR_BASS_HZ = 120.0
COLOUR_TREBLE_HZ = 4000.0
#: The treble shelf varies this share of the bass shelf's range (a close microphone's
#: proximity effect moves the low end more than placement moves the top).
COLOUR_TREBLE_SHARE = 0.75
#: Roles recorded in stereo when a session asks for stereo stems: a cymbal pair over the
#: kit, and the keys, pads and strings that engineers take wide.
STEREO_ROLES = ("overhead", "keys", "pad", "strings")


@attrs.frozen
class RecordedSession:
    """A rendered session in memory: ``stems``, the ``mix (2, T)`` and its story.

    ``stems`` are ``(K, T)``, or ``(K, 2, T)`` when some are stereo (``params.channels``
    says which; the mono ones sit on both sides).
    """

    stems: torch.Tensor
    mix: torch.Tensor
    names: list[str]
    roles: list[str]
    programs: list[int | None]
    input_lufs: list[float]
    params: MixParams
    multitrack: Multitrack
    style: EngineerStyle
    source: Source
    instruments: dict[str, object]
    sample_rate: int
    seed: int
    #: Each stem's recording colour, ``(bass_db, treble_db)``; zeros when not coloured.
    colours: list[tuple[float, float]] = attrs.field(factory=list)
    #: The name of the engineer who mixed it (see :data:`~console.data.engineer.ENGINEERS`).
    engineer: str = DEFAULT_ENGINEER


class UnplayableSession(RuntimeError):
    """The arrangement a seed drew cannot be played by the source (fewer than two parts)."""


def pan_hints(parts: Sequence[Part]) -> list[float | None]:
    """Where the arrangement puts tracks that belong together, before the engineer's style.

    Toms go across the kit from the hi-hat's side, the ride opposite the crash, and a
    double-tracked pair of guitars wide apart; other tracks follow their role's rule.
    """
    hints: list[float | None] = [None] * len(parts)
    toms = [i for i, p in enumerate(parts) if p.role == "tom"]
    for rank, i in enumerate(toms):
        hints[i] = 0.2 if len(toms) == 1 else 0.6 - 1.2 * rank / (len(toms) - 1)
    guitars = [i for i, p in enumerate(parts) if p.role == "guitar"]
    if len(guitars) == 2:
        hints[guitars[0]], hints[guitars[1]] = -0.8, 0.8
    for i, part in enumerate(parts):
        if part.name.startswith("crash"):
            hints[i] = 0.5
        elif part.name.startswith("ride"):
            hints[i] = -0.5
    return hints


def colour_stems(
    stems: torch.Tensor, sample_rate: int, colour_db: float, seed: int
) -> tuple[torch.Tensor, list[tuple[float, float]]]:
    """Each stem through a random bass and treble shelf, as a microphone and room colour it.

    Real recordings of one instrument differ in tone by where the microphone
    stood and which one it was; sampler sources each have one tone. The low
    shelf (at :data:`COLOUR_BASS_HZ`) is drawn within ``±colour_db``, the high
    shelf (at :data:`COLOUR_TREBLE_HZ`) within ``±0.75 colour_db``, both played
    by the registered ``eq:dsp`` with its other bands flat. The draws use their
    own generator, so a session's arrangement and levels do not depend on
    whether it is coloured.
    """
    from console.chain import EffectChain

    rng = np.random.default_rng([seed, 0xC010])
    k = stems.shape[0]
    bass = np.round(rng.uniform(-colour_db, colour_db, k), 2)
    treble = np.round(rng.uniform(-1.0, 1.0, k) * COLOUR_TREBLE_SHARE * colour_db, 2)
    eq = EffectChain.from_spec("eq:dsp")
    names = [slot.spec.name for slot in eq.layout]
    params = torch.tensor([slot.spec.default for slot in eq.layout]).repeat(k, 1)
    params[:, names.index("low_shelf_freq_hz")] = COLOUR_BASS_HZ
    params[:, names.index("low_shelf_gain_db")] = torch.from_numpy(bass).float()
    params[:, names.index("high_shelf_freq_hz")] = COLOUR_TREBLE_HZ
    params[:, names.index("high_shelf_gain_db")] = torch.from_numpy(treble).float()
    with torch.no_grad():
        if stems.dim() == 2:
            coloured = eq(stems, params, sample_rate)[:, 0]  # mono in, the two rows are equal
        else:  # (K, 2, T): stereo stems coloured alike on both sides, mono ones as before
            coloured = eq(stems, params, sample_rate, stereo_rows(stems))
    return coloured.contiguous(), [(float(b), float(t)) for b, t in zip(bass, treble, strict=True)]


def make_recorded_session(
    seed: int = 0,
    source: str = "procedural",
    duration: float = 10.0,
    sample_rate: int = 44100,
    kind: Kind | None = None,
    spec: str | None = None,
    max_stems: int = 24,
    colour_db: float = 0.0,
    engineer: str = DEFAULT_ENGINEER,
    stereo: float = 0.0,
) -> RecordedSession:
    """Arrange, play, level and mix one song; the same arguments always give the same session.

    ``colour_db`` > 0 colours every stem before it is levelled (:func:`colour_stems`).
    ``stereo`` is the share of the parts of :data:`STEREO_ROLES` recorded as stereo
    stems, where the source is a SoundFont (a sampler with stereo recordings and each
    key's pan); it draws from its own generator, so the song is otherwise the same.
    ``engineer`` names who mixes it; with another engineer the same seed gives the same
    song (arrangement, instruments, recording levels up to the song's group level offsets,
    which each engineer's style draws), mixed by that engineer's rules.
    """
    if duration <= 0:
        raise ValueError(f"duration must be positive, got {duration}.")
    if not 0.0 <= colour_db <= 24.0:
        raise ValueError(f"colour_db must be within 0 to 24 dB, got {colour_db}.")
    if not 0.0 <= stereo <= 1.0:
        raise ValueError(f"stereo must be a share from 0 to 1, got {stereo}.")
    chosen = get_source(source)
    mixer = get_engineer(engineer)
    if not chosen.installed():
        raise FileNotFoundError(
            f"The source {source!r} ({chosen.description}) is not installed here."
        )
    rng = np.random.default_rng(seed)
    frames = int(round(duration * sample_rate))
    if kind is None:
        kind = "drums" if not chosen.plays_melodic or rng.random() < DRUM_SESSIONS else "band"
    elif kind == "band" and not chosen.plays_melodic:
        raise ValueError(f"The source {source!r} has drums only; ask for kind='drums'.")
    for _ in range(20):
        multitrack = make_multitrack(rng, duration, kind, max_stems)
        parts = [p for p in multitrack.parts if chosen.can_play(p)]
        if len(parts) >= 2:
            break
    else:
        raise UnplayableSession(
            f"The source {source!r} could not play two parts of a {kind} session."
        )
    render, instruments = session_renderer(chosen, frames, sample_rate, rng)
    wide = np.random.default_rng([seed, 0x57E0]).random(len(parts)) < stereo
    asked = [bool(w) and chosen.soundfont and p.role in STEREO_ROLES
             for p, w in zip(parts, wide, strict=True)]
    audio = [(part, render(part, stereo=True) if want else render(part))
             for part, want in zip(parts, asked, strict=True)]
    audio = [(p, a) for p, a in audio if np.abs(a).max() > 1e-6]  # a preset that stayed silent
    if len(audio) < 2:
        raise UnplayableSession(f"The source {source!r} played fewer than two audible parts.")
    parts = [p for p, _ in audio]
    style = mixer.draw_style(rng)
    stems, is_stereo = _stack_stems([a for _, a in audio], [p.name for p in parts])
    colours = [(0.0, 0.0)] * len(parts)
    if colour_db > 0:
        stems, colours = colour_stems(stems, sample_rate, colour_db, seed)
    measured = track_loudness(stems, sample_rate, torch.tensor(is_stereo)).tolist()
    levels = []
    for k, part in enumerate(parts):
        # Stems arrive around the default engineer's wish whoever mixes, so another engineer
        # gets the same recording (up to the song's level offsets) and its faders differ from
        # the default's by how its rules differ.
        wish = STYLES.get(part.role, STYLES["other"]).loudness_lufs
        wish += style.level_offset(part.role)
        arrives = wish + float(rng.uniform(-INPUT_SPREAD_DB, INPUT_SPREAD_DB))
        stems[k] *= float(10.0 ** ((arrives - measured[k]) / 20.0))
        levels.append(round(arrives, 2))
    names = [p.name for p in parts]
    roles = [p.role for p in parts]
    mix, params = engineer_mix(stems, names, roles, sample_rate, spec=spec, seed=seed,
                               style=style, pan_hints=pan_hints(parts), engineer=mixer,
                               stereo=is_stereo if stems.dim() == 3 else None)
    return RecordedSession(
        stems, mix, names, roles, [None if p.drums else p.program for p in parts], levels,
        params, attrs.evolve(multitrack, parts=parts), style, chosen, instruments,
        sample_rate, seed, colours, mixer.name,
    )


def _stack_stems(audio: Sequence[np.ndarray], names: Sequence[str]
                 ) -> tuple[torch.Tensor, list[bool]]:
    """Played parts as ``(K, T)``, or ``(K, 2, T)`` when some are stereo, and which are.

    A part asked for in stereo whose two sides came out identical (a centred mono
    recording) is a mono stem, as ``console mix`` would take it.
    """
    tracks = [torch.from_numpy(np.atleast_2d(a).astype(np.float32)) for a in audio]
    channels = [check_stereo(name, t).channels for name, t in zip(names, tracks, strict=True)]
    return stack_tracks(tracks, channels), [c == 2 for c in channels]


def write_recorded_session(out_dir: str | Path, **options) -> RecordedSession:
    """Render with :func:`make_recorded_session` and write it in the plain folder layout."""
    out_dir = Path(out_dir)
    session = make_recorded_session(**options)
    mt = session.multitrack
    info = {
        "generator": "recorded",
        "seed": session.seed,
        "source": session.source.name,
        "family": session.source.family,
        "instruments": session.instruments,
        "kind": mt.kind,
        "duration_s": session.stems.shape[-1] / session.sample_rate,
        "sample_rate": session.sample_rate,
        "tempo_bpm": round(mt.tempo_bpm, 2),
        "key_midi": mt.key_midi,
        "scale": mt.scale,
        "spec": session.params.spec,
        "engineer": session.style.to_dict(),
        # the default engineer's songs stay as they were written before engineers had names
        **({} if session.engineer == DEFAULT_ENGINEER else {"engineer_name": session.engineer}),
        "tracks": [
            {"name": n, "role": r, "gm_program": p, "input_lufs": lvl,
             "colour_db": {"bass": c[0], "treble": c[1]}, **({"channels": 2} if ch == 2 else {})}
            for n, r, p, lvl, c, ch in zip(session.names, session.roles, session.programs,
                                           session.input_lufs, session.colours,
                                           session.params.channels, strict=True)
        ],
    }
    write_song_folder(out_dir, session.names, session.stems, session.mix, session.params, info,
                      session.sample_rate)
    return session
