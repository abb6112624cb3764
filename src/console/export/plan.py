"""From one track's settings to the Ardour controls that reproduce them.

The plan is pure data computed from the effects' declared mappings
(:mod:`console.export.mapping`); no audio is touched. An Ardour track runs, in
order: trim, fader, the plugin inserts, the panner. Our chains apply the gain
first and the pan last, so the inserts sit after the fader (post-fader) in the
chain's order, and the compressor hears the fader's level as ours hears the gain.
What the fader also carries for a later stage (the level by which Ardour's pan
law differs from ours) moves the compressor's threshold by as much.

Effects that declare no mapping cannot be rebuilt in Ardour: the track's audio is
then printed through the chain up to and including the last such effect, and only
what follows is mapped. Every value that had to be held in a port's range, every
parameter with no Ardour counterpart and every printed effect becomes a note.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import attrs
import torch

from console.chain import EffectChain
from console.effect import Effect
from console.export.ardour_controls import (
    LevelStage,
    PannerSetting,
    balance_panner,
    level_stage,
    mono_panner,
)
from console.export.mapping import ArdourMapping, Fader, LV2Plugin, Panner, Settings
from console.mix_params import chain_keys

#: Relative change below which a held value is not worth a note (float rounding).
_HELD_TOLERANCE = 1e-6


@attrs.frozen
class PortValue:
    """One control port as written to the session, and the value the conversion wanted."""

    symbol: str
    value: float
    wanted: float
    unit: str = ""
    sources: tuple[str, ...] = ()


@attrs.frozen
class PluginInsert:
    """An LV2 plugin on the track with its port values; ``count`` copies for mono plugins."""

    effect_key: str
    uri: str
    name: str
    count: int
    inputs: int
    outputs: int
    ports: tuple[PortValue, ...]


@attrs.frozen
class Decision:
    """One of our settings and where it went in Ardour (or why it went nowhere)."""

    #: ``effect_key.parameter``, as in the params file.
    parameter: str
    value: float
    unit: str
    #: ``"fader"``, ``"panner"``, ``"plugin"``, ``"printed"`` or ``"none"``.
    kind: str
    #: The Ardour control(s) it set, or why there is none.
    ardour: str


@attrs.frozen
class TrackPlan:
    """Everything the session needs to rebuild one track."""

    #: Ardour's track name (the stem's name, made legal and unique).
    name: str
    #: The stem's file name, as in the params file.
    stem: str
    #: Keys of the effects printed into the track's audio (empty: the dry stem).
    printed: tuple[str, ...]
    #: How many effects of the chain the audio went through (0: the dry stem).
    printed_count: int
    #: Channels of the audio in the session (1, or 2 for a stereo stem or once a printed
    #: effect made it stereo).
    channels: int
    #: Channels of the stem itself (2: a stereo stem, balanced rather than panned).
    stem_channels: int
    level: LevelStage
    plugins: tuple[PluginInsert, ...]
    panner: PannerSetting
    #: Every setting of the track and where it went, in chain order.
    decisions: tuple[Decision, ...]
    #: Values held in a port's range, printed effects, reorderings.
    notes: tuple[str, ...]

    @property
    def unmapped(self) -> tuple[Decision, ...]:
        """Settings Ardour has no control for."""
        return tuple(d for d in self.decisions if d.kind == "none")


_ILLEGAL_NAME = re.compile(r"[/\\:;\x00-\x1f\x7f]")
#: Names Ardour keeps for its own busses and ports (``libs/ardour/globals.cc``, session ports).
_RESERVED = {
    "master", "monitor", "auditioner", "click", "control", "mackie", "x-virtual-keyboard",
    "ltc", "ltc in", "ltc out", "mtc out", "mmc in", "mmc out", "midi clock out", "scene in",
    "scene out", "cue control in",
    *(f"midi tracer {n}" for n in range(1, 5)),
    *(f"faderport{v} {d}" for v in ("", "2", "8", "16") for d in ("recv", "send")),
}


def track_names(stems: Sequence[str]) -> list[str]:
    """Ardour track names for stem file names: no suffix, no ``/\\:;``, unique, not Ardour's."""
    names: list[str] = []
    for stem in stems:
        base = _ILLEGAL_NAME.sub("_", stem.rsplit(".", 1)[0] if "." in stem[1:] else stem)
        base = base.strip() or "track"
        name, n = base, 2
        while name.lower() in {other.lower() for other in names} or name.lower() in _RESERVED:
            name, n = f"{base}-{n}", n + 1
        names.append(name)
    return names


def _effect_settings(chain: EffectChain, row: torch.Tensor) -> list[dict[str, float]]:
    """Each effect's ``{parameter: value}`` from one row of the parameter tensor."""
    keys = chain_keys(chain.spec_items)
    values = row.detach().double().tolist()
    by_key: dict[str, dict[str, float]] = {key: {} for key in keys}
    for slot in chain.layout:
        by_key[slot.effect_key][slot.spec.name] = values[slot.index]
    return [by_key[key] for key in keys]


def _decisions(key: str, effect: Effect, values: dict[str, float], kind_of: dict[str, str],
               where: dict[str, list[str]], channels: int = 1) -> list[Decision]:
    """One :class:`Decision` per parameter of ``effect``, in its declared order.

    A stereo stem's decisions carry the names its params file gives them (``pan.balance``).
    """
    shown = effect.stereo_params if channels == 2 and effect.stereo_params else effect.params
    return [
        Decision(f"{key}.{label.name}", values[spec.name], spec.unit,
                 kind_of.get(spec.name, "none"), "; ".join(where.get(spec.name, [])))
        for spec, label in zip(effect.params, shown, strict=True)
    ]


def printed_count(chain: EffectChain) -> int:
    """Effects to print into the audio: up to the last one Ardour cannot rebuild.

    An effect without a mapping cannot be rebuilt, nor can a second panner (a track
    has one).
    """
    count, panners = 0, 0
    for index, effect in enumerate(chain.effects):
        mapping: ArdourMapping | None = effect.ardour
        if mapping is None:
            count = index + 1
            continue
        panners += sum(isinstance(t, Panner) for t in mapping.targets)
        if panners > 1:
            count = index + 1
    return count


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def plan_track(
    chain: EffectChain, row: torch.Tensor, stem: str, name: str, sample_rate: int,
    channels: int = 1,
) -> TrackPlan:
    """The Ardour controls that reproduce one track: level, inserts, panner, and notes.

    Ardour's level stage comes before every insert. A level that belongs later in
    our chain (the difference between Ardour's pan law and ours, a gain after an
    insert) is carried there too, and the inserts before its place move their
    level-following ports (a threshold) by it, so they act as ours do.
    """
    keys = chain_keys(chain.spec_items)
    settings = _effect_settings(chain, row)
    printed = printed_count(chain)
    notes: list[str] = []
    decisions: list[Decision] = []
    stem_channels = channels
    for key, effect, values in zip(keys[:printed], chain.effects, settings, strict=False):
        channels = effect.output_channels(channels)
        decisions += _decisions(key, effect, values, dict.fromkeys(values, "printed"),
                                {n: ["printed into the track's audio"] for n in values},
                                stem_channels)
    audio_channels = channels
    if printed:
        missing = [k for k, e in zip(keys[:printed], chain.effects, strict=False)
                   if e.ardour is None]
        notes.append(
            f"printed into the audio: {', '.join(keys[:printed])} (no Ardour mapping for "
            f"{', '.join(missing) or 'a second panner'})"
        )
    # First pass: levels with their place in the chain, the panner, the inserts' contexts.
    levels: list[tuple[int, float]] = []
    inserts: list[tuple[int, LV2Plugin, Settings]] = []
    pan_gains, pan_channels, pan_place = (1.0, 1.0), channels, len(keys)
    for index in range(printed, len(keys)):
        key, mapping = keys[index], chain.effects[index].ardour
        context = Settings(settings[index], sample_rate, channels)
        for target in mapping.targets:
            if isinstance(target, Fader):
                levels.append((index, target.gain_db(context)))
                if inserts:
                    notes.append(f"{key}: on the fader, before the inserts (thresholds follow)")
            elif isinstance(target, Panner):
                pan_gains, pan_channels, pan_place = target.gains(context), channels, index
                if index != len(keys) - 1:
                    notes.append(f"{key}: Ardour pans at the end of the strip")
            elif isinstance(target, LV2Plugin):
                inserts.append((index, target, context))
                channels = target.outputs if target.outputs is not None else channels
    if pan_channels not in (1, 2):
        raise ValueError(f"Ardour's panners take mono or stereo, not {pan_channels} channels")
    # no panner in the chain: ours sends a mono track to both sides at full level
    panner = mono_panner(*pan_gains) if pan_channels == 1 else balance_panner(*pan_gains)
    levels.append((pan_place, panner.correction_db))
    plugins = [
        _insert(keys[index], target, context, notes,
                sum(db for place, db in levels if place > index))
        for index, target, context in inserts
    ]
    # Second: where each setting went, in chain order.
    for index in range(printed, len(keys)):
        key, effect = keys[index], chain.effects[index]
        kind_of, where = _targets_of(effect.ardour, [p for p in plugins if p.effect_key == key])
        decisions += _decisions(key, effect, settings[index], kind_of, where, stem_channels)
    level = level_stage(sum(db for _, db in levels))
    if level.held:
        notes.append(
            f"level {level.wanted_db:+.2f} dB is beyond trim and fader; held at "
            f"{level.total_db:+.2f} dB"
        )
    return TrackPlan(
        name=name, stem=stem, printed=tuple(keys[:printed]), printed_count=printed,
        channels=audio_channels, stem_channels=stem_channels, level=level,
        plugins=tuple(plugins), panner=panner,
        decisions=tuple(decisions), notes=tuple(notes),
    )


def _targets_of(
    mapping: ArdourMapping, inserts: Sequence[PluginInsert]
) -> tuple[dict[str, str], dict[str, list[str]]]:
    """For each parameter of one effect: the kind of control it went to, and which."""
    kind_of: dict[str, str] = {}
    where: dict[str, list[str]] = {}
    for target in mapping.targets:
        if isinstance(target, Fader | Panner):
            kind = "fader" if isinstance(target, Fader) else "panner"
            for source in target.sources:
                kind_of[source] = kind
                where.setdefault(source, []).append(
                    "track level (trim + fader)" if kind == "fader" else "panner position")
    for insert in inserts:
        for port in insert.ports:
            for source in port.sources:
                kind_of[source] = "plugin"
                unit = f" {port.unit}" if port.unit else ""
                where.setdefault(source, []).append(
                    f"{insert.name} {port.symbol} = {_fmt(port.value)}{unit}")
    for parameter, why in mapping.unmapped.items():
        where[parameter] = [why]
    return kind_of, where


def _insert(
    key: str, plugin: LV2Plugin, settings: Settings, notes: list[str], level_offset_db: float
) -> PluginInsert:
    uri, count = plugin.uri_for(settings.channels)
    values = []
    for port in plugin.ports:
        wanted = port.raw(settings, level_offset_db)
        if not math.isfinite(wanted):
            raise ValueError(f"{key}: the conversion for {plugin.name} port {port.symbol} "
                             f"gave {wanted}")
        value = port.clamp(wanted)
        if abs(value - wanted) > _HELD_TOLERANCE * max(1.0, abs(wanted)):
            notes.append(
                f"{key}: {plugin.name} {port.symbol} wanted {_fmt(wanted)}"
                f"{' ' + port.unit if port.unit else ''}, held at {_fmt(value)} (its range "
                f"is {_fmt(port.minimum)} to {_fmt(port.maximum)})"
            )
        values.append(PortValue(port.symbol, value, wanted, port.unit, port.sources))
    moved = [port.symbol for port in plugin.ports if port.follows_level]
    if moved and abs(level_offset_db) > 1e-6:
        notes.append(
            f"{key}: {plugin.name} {', '.join(moved)} moved {level_offset_db:+.2f} dB with the "
            f"level the fader carries for a later stage (Ardour's pan law)"
        )
    outputs = plugin.outputs if plugin.outputs is not None else settings.channels
    return PluginInsert(key, uri, plugin.name, count, settings.channels, outputs, tuple(values))


def plan_tracks(
    chain: EffectChain, settings: torch.Tensor, stems: Sequence[str], sample_rate: int,
    channels: Sequence[int] | None = None,
) -> list[TrackPlan]:
    """Plans for every track of a mix: ``settings`` is ``(K, P)`` in physical units.

    ``channels`` (1 or 2 a track, default all mono) makes stereo stems stereo tracks.
    """
    names = track_names(stems)
    channels = list(channels) if channels is not None else [1] * len(stems)
    return [
        plan_track(chain, settings[k], stem, name, sample_rate, channels[k])
        for k, (stem, name) in enumerate(zip(stems, names, strict=True))
    ]
