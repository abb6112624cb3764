"""A rule-based mixing engineer that makes the reference mix of a synthetic session.

Rules are written per role (how loud, where in the stereo field, how much
EQ, compression and reverb) and turned into parameter values by the name of
each :class:`~console.params.ParamSpec` in the chain's layout. A parameter
no rule knows stays at its default and every value is clamped to its range,
so the engineer keeps working when an effect gains or renames parameters.
The chosen values are saved as a ``params.json``, so ``console render``
reproduces the reference mix from the stems.

Engineers are named (:data:`ENGINEERS`): each is one table of role rules and
one spread of per-song habits (:class:`StyleSpread`). ``default`` mixes every
training set the project generates (its table is :data:`STYLES`); ``punchy``
(:data:`PUNCHY_STYLES`) is a second engineer with other conventions, for
measuring how fast a console learns someone else's (``console make-sessions
--engineer punchy``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import attrs
import numpy as np
import torch

from console.chain import EffectChain
from console.console import render
from console.data.loudness import loudness_lufs
from console.errors import ConsoleError, UnknownComponentError
from console.master import MasterSettings
from console.mix_params import MixParams, ParamSlot
from console.params import ParamSpec
from console.plugins import Plugins, get_plugins

#: The fullest chain the engineer uses, in the paper's order; missing effects are dropped.
# The engineer mixes with the DSP effects, never with emulators of them: reference mixes
# must come from real processing.
FULL_CHAIN = ("gain", "eq:dsp", "comp:dsp", "reverb:dsp", "pan")


@attrs.frozen
class RoleStyle:
    """How an engineer treats one role; amounts are ``0`` (none) to ``1`` (a lot)."""

    loudness_lufs: float
    pan: float
    pan_spread: float = 0.0
    low_cut_hz: float = 40.0
    low_db: float = 0.0
    mid_db: float = 0.0
    high_db: float = 0.0
    compression: float = 0.3
    attack_ms: float = 15.0
    reverb: float = 0.2
    #: A factor on where the arrangement places tracks of this role as a group (toms
    #: across the kit, crash and ride apart, a double-tracked pair): above 1 is wider.
    placement_width: float = 1.0


#: The default engineer's rules.
STYLES: dict[str, RoleStyle] = {
    "drums": RoleStyle(-23, 0.0, 0.0, 40, 1, -1, 1, 0.5, 10, 0.2),
    "kick": RoleStyle(-24, 0.0, 0.0, 30, 3, -3, 1, 0.6, 8, 0.05),
    "snare": RoleStyle(-25, 0.0, 0.05, 90, -1, 1, 2, 0.6, 5, 0.35),
    "hihat": RoleStyle(-33, 0.35, 0.1, 300, -6, 0, 2, 0.2, 3, 0.15),
    "tom": RoleStyle(-30, 0.0, 0.6, 60, 1, -2, 1, 0.4, 8, 0.3),
    "overhead": RoleStyle(-31, 0.0, 0.8, 150, -3, 0, 2, 0.2, 10, 0.2),
    "percussion": RoleStyle(-32, 0.0, 0.6, 150, -3, 0, 2, 0.2, 5, 0.3),
    "bass": RoleStyle(-25, 0.0, 0.0, 35, 2, -1, -3, 0.7, 20, 0.0),
    "keys": RoleStyle(-29, -0.4, 0.2, 120, -2, -1, 1, 0.3, 20, 0.4),
    "guitar": RoleStyle(-29, 0.45, 0.2, 100, -2, 1, 1, 0.4, 15, 0.3),
    "lead": RoleStyle(-23, 0.0, 0.1, 120, -2, 2, 2, 0.5, 10, 0.45),
    "vocals": RoleStyle(-23, 0.0, 0.1, 100, -2, 2, 3, 0.6, 8, 0.45),
    "strings": RoleStyle(-31, 0.0, 0.6, 100, -2, 0, 1, 0.2, 30, 0.5),
    "pad": RoleStyle(-32, 0.0, 0.5, 120, -3, 0, 0, 0.2, 30, 0.5),
    "brass": RoleStyle(-29, -0.3, 0.3, 120, -2, 1, 1, 0.4, 10, 0.35),
    "other": RoleStyle(-29, 0.0, 0.4, 80, 0, 0, 0, 0.3, 15, 0.3),
}

#: The ``punchy`` engineer's rules: against :data:`STYLES`, the kick, snare and bass 3 dB
#: forward (toms 2) and hard-compressed with faster attacks, the hi-hat, cymbals and
#: percussion 2 to 3 dB back and further out, the lead 2 dB and the vocals 3 dB louder and
#: dead centre, keys, guitars and brass wider and a dB or two back, strings and pads wider
#: and further back, the kit's toms and cymbals and a guitar pair spread wider, more low
#: cut on everything but the kick and bass, and less reverb everywhere.
PUNCHY_STYLES: dict[str, RoleStyle] = {
    "drums": RoleStyle(-21, 0.0, 0.0, 40, 2, -2, 2, 0.7, 5, 0.1),
    "kick": RoleStyle(-21, 0.0, 0.0, 35, 4, -4, 2, 0.85, 4, 0.0),
    "snare": RoleStyle(-22, 0.0, 0.0, 110, 0, 1, 3, 0.85, 3, 0.2),
    "hihat": RoleStyle(-36, 0.55, 0.1, 400, -8, 0, 1, 0.3, 2, 0.05),
    "tom": RoleStyle(-28, 0.0, 0.8, 80, 2, -3, 1, 0.6, 5, 0.15, placement_width=1.4),
    "overhead": RoleStyle(-34, 0.0, 0.9, 250, -4, 0, 1, 0.3, 8, 0.1, placement_width=1.6),
    "percussion": RoleStyle(-34, 0.0, 0.8, 200, -4, 0, 1, 0.3, 4, 0.15),
    "bass": RoleStyle(-22, 0.0, 0.0, 35, 3, -1, -2, 0.9, 10, 0.0),
    "keys": RoleStyle(-31, -0.7, 0.2, 150, -3, -1, 1, 0.5, 15, 0.25),
    "guitar": RoleStyle(-30, 0.75, 0.2, 120, -3, 2, 1, 0.6, 10, 0.15, placement_width=1.25),
    "lead": RoleStyle(-21, 0.0, 0.05, 150, -2, 3, 2, 0.7, 8, 0.3),
    "vocals": RoleStyle(-20, 0.0, 0.0, 120, -2, 3, 3, 0.8, 5, 0.3),
    "strings": RoleStyle(-33, 0.0, 0.9, 150, -2, 0, 1, 0.3, 30, 0.35),
    "pad": RoleStyle(-34, 0.0, 0.8, 150, -3, 0, 0, 0.3, 30, 0.35),
    "brass": RoleStyle(-30, -0.55, 0.3, 150, -2, 2, 1, 0.6, 8, 0.2),
    "other": RoleStyle(-30, 0.0, 0.5, 100, 0, 0, 0, 0.5, 10, 0.2),
}

#: Which level offset of an :class:`EngineerStyle` each role takes.
ROLE_GROUPS = {
    "drums": "drums", "kick": "drums", "snare": "drums", "hihat": "drums", "tom": "drums",
    "overhead": "drums", "percussion": "drums", "bass": "bass", "lead": "front",
    "vocals": "front",
}


@attrs.frozen
class EngineerStyle:
    """How one engineer departs from the role rules for a whole session.

    The neutral style (the default) is the plain rules. Styles drawn with
    :func:`draw_style` vary within common practice: the drums panned from the
    audience's or the drummer's perspective (``mirror``), a narrower or wider
    image, LCR panning (hard left, centre, hard right), the drums, bass or
    front line a few dB forward, and more or less EQ, compression and reverb.
    """

    mirror: bool = False
    width: float = 1.0
    lcr: bool = False
    level_db: dict[str, float] = attrs.field(factory=dict)  # by ROLE_GROUPS value
    eq: float = 1.0
    compression: float = 1.0
    reverb: float = 1.0

    def level_offset(self, role: str) -> float:
        return self.level_db.get(ROLE_GROUPS.get(role, "harmony"), 0.0)

    def place(self, position: float) -> float:
        """A pan position after this engineer's perspective, width and LCR habit."""
        position = max(-1.0, min(1.0, position * self.width))
        if self.mirror:
            position = -position
        if self.lcr:
            position = 0.0 if abs(position) < 0.25 else math.copysign(1.0, position)
        return position

    def to_dict(self) -> dict[str, object]:
        return attrs.asdict(self)


@attrs.frozen
class StyleSpread:
    """How much one named engineer's habits vary from song to song (see :func:`draw_style`).

    The default spread stands for many engineers within common practice; one person
    varies less.
    """

    mirror: float = 0.5  # chance of panning the drums from the other perspective
    width: tuple[float, float] = (0.6, 1.4)
    lcr: float = 0.15  # chance of LCR panning
    level_sd_db: float = 2.0  # of each group's level offset
    eq: tuple[float, float] = (0.5, 1.5)
    compression: tuple[float, float] = (0.5, 1.5)
    reverb: tuple[float, float] = (0.4, 1.6)


def draw_style(rng: np.random.Generator, spread: StyleSpread | None = None) -> EngineerStyle:
    """A random engineer's style for one song within ``spread`` (see :class:`EngineerStyle`).

    ``spread`` defaults to :class:`StyleSpread`'s, many engineers' habits. Every spread
    draws the same numbers from ``rng`` in the same order.
    """
    spread = spread or StyleSpread()
    return EngineerStyle(
        mirror=bool(rng.random() < spread.mirror),
        width=round(float(rng.uniform(*spread.width)), 3),
        lcr=bool(rng.random() < spread.lcr),
        level_db={g: round(float(rng.normal(0.0, spread.level_sd_db)), 2)
                  for g in ("drums", "bass", "front", "harmony")},
        eq=round(float(rng.uniform(*spread.eq)), 3),
        compression=round(float(rng.uniform(*spread.compression)), 3),
        reverb=round(float(rng.uniform(*spread.reverb)), 3),
    )


@attrs.frozen
class Engineer:
    """A named engineer: one table of role rules and how its habits vary between songs."""

    name: str
    description: str
    styles: dict[str, RoleStyle]
    spread: StyleSpread = StyleSpread()

    def role_style(self, role: str) -> RoleStyle:
        """The rules for ``role`` (the table's ``other`` for a role it does not know)."""
        return self.styles.get(role, self.styles["other"])

    def draw_style(self, rng: np.random.Generator) -> EngineerStyle:
        """This engineer's style for one song (see :func:`draw_style`)."""
        return draw_style(rng, self.spread)


DEFAULT_ENGINEER = "default"
#: The named engineers, by name (``console make-sessions --engineer NAME``).
ENGINEERS: dict[str, Engineer] = {
    e.name: e
    for e in (
        Engineer(DEFAULT_ENGINEER, "the rules every generated training set is mixed by, "
                 "varied song to song as many engineers would", STYLES),
        Engineer(
            "punchy",
            "drums and bass forward and hard-compressed, hi-hat and cymbals back, vocals and "
            "lead louder and centred, keys and guitars wider, the kit spread wider, drier",
            PUNCHY_STYLES,
            # one person: never mirrors the kit, pans wide, varies less from song to song
            StyleSpread(mirror=0.0, width=(1.0, 1.3), lcr=0.2, level_sd_db=1.0,
                        eq=(0.8, 1.4), compression=(1.0, 1.5), reverb=(0.5, 1.0)),
        ),
    )
}


def get_engineer(name: str) -> Engineer:
    """The engineer called ``name``; an unknown name answers with the close ones."""
    if name not in ENGINEERS:
        import difflib

        close = difflib.get_close_matches(name, ENGINEERS, n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise ConsoleError(
            f"Unknown engineer {name!r}.{hint} Choose from: {', '.join(ENGINEERS)}."
        )
    return ENGINEERS[name]


@attrs.frozen
class TrackFacts:
    """What the engineer knows about a track before setting it."""

    role: str
    loudness_lufs: float
    style: RoleStyle
    taste: float  # a random number in [-1, 1] that varies the rules per track
    session: EngineerStyle = EngineerStyle()
    pan_hint: float | None = None  # where the arrangement puts this track, before the style
    channels: int = 1  # 2: a stereo stem, whose pan is a balance


#: A rule sees the parameter, the track, and the other parameters of the same effect.
Rule = Callable[[ParamSpec, TrackFacts, dict[str, ParamSpec]], float | None]


def _gain(spec: ParamSpec, facts: TrackFacts, siblings: dict[str, ParamSpec]) -> float | None:
    if "gain" not in spec.name or not math.isfinite(facts.loudness_lufs):
        return None
    target = facts.style.loudness_lufs + facts.session.level_offset(facts.role)
    return target + 1.5 * facts.taste - facts.loudness_lufs


#: How far an engineer moves a stereo track's balance off the centre at most: the recorded
#: image (cymbals across the kit, keys or a pad spread wide) is the placement.
STEREO_BALANCE = 0.15


def _pan(spec: ParamSpec, facts: TrackFacts, siblings: dict[str, ParamSpec]) -> float | None:
    if "pan" not in spec.name:
        return None
    if facts.channels == 2:
        return STEREO_BALANCE * facts.taste
    if facts.pan_hint is not None:
        return facts.session.place(facts.pan_hint * facts.style.placement_width)
    return facts.session.place(facts.style.pan + facts.style.pan_spread * facts.taste)


def _eq(spec: ParamSpec, facts: TrackFacts, siblings: dict[str, ParamSpec]) -> float | None:
    name, style = spec.name, facts.style
    if name.endswith("_db") and "gain" in name:
        return _eq_band(spec, style, siblings) * facts.session.eq
    if name.endswith("_hz") and any(k in name for k in ("highpass", "high_pass", "hp_", "low_cut")):
        return style.low_cut_hz
    return None


def _eq_band(spec: ParamSpec, style: RoleStyle, siblings: dict[str, ParamSpec]) -> float:
    """The role's boost or cut for an EQ band: low, mid or high by its frequency, else name.

    A band's frequency is its sibling's default (``band2_freq_hz`` for ``band2_gain_db``).
    """
    name = spec.name
    freq = siblings.get(name.replace("gain_db", "freq_hz"))
    if freq is not None:
        hz = freq.default
        return style.low_db if hz < 200 else style.mid_db if hz < 2500 else style.high_db
    if "low" in name or "bass" in name:
        return style.low_db
    if "high" in name or "treble" in name or "presence" in name:
        return style.high_db
    return style.mid_db


def _comp(spec: ParamSpec, facts: TrackFacts, siblings: dict[str, ParamSpec]) -> float | None:
    name = spec.name
    amount = min(1.0, facts.style.compression * facts.session.compression)
    if "threshold" in name:  # the gain stage sits before, so the track is near its target
        return facts.style.loudness_lufs + 8.0 - 14.0 * amount
    if "ratio" in name:
        return 1.0 + 5.0 * amount
    if "attack" in name and name.endswith("_ms"):
        return facts.style.attack_ms
    if "release" in name and name.endswith("_ms"):
        return 80.0 + 120.0 * (1.0 - amount)
    return None


def _reverb(
    spec: ParamSpec, facts: TrackFacts, siblings: dict[str, ParamSpec]
) -> float | None:
    name = spec.name
    amount = min(max(facts.style.reverb * facts.session.reverb + 0.1 * facts.taste, 0.0), 1.0)
    if any(k in name for k in ("mix", "wet", "send", "amount", "level")):
        return float(spec.denormalise(torch.tensor(amount)))
    if any(k in name for k in ("decay", "time", "size", "length")):
        return float(spec.denormalise(torch.tensor(0.35 + 0.1 * facts.taste)))
    return None


#: Rules by effect family (the JSON key without a number suffix).
RULES: dict[str, Rule] = {"gain": _gain, "pan": _pan, "eq": _eq, "comp": _comp, "reverb": _reverb}


def default_spec(plugins: Plugins | None = None) -> str:
    """The fullest chain of :data:`FULL_CHAIN` whose effects are registered here."""
    plugins = plugins or get_plugins()
    present = []
    for family in FULL_CHAIN:
        try:
            plugins.resolve("effect", family)
        except UnknownComponentError:
            continue
        present.append(family)
    return "+".join(present)


def choose_settings(
    chain: EffectChain,
    stems: torch.Tensor,
    roles: Sequence[str],
    sample_rate: int,
    rng: np.random.Generator,
    style: EngineerStyle | None = None,
    pan_hints: Sequence[float | None] | None = None,
    tastes: Sequence[float] | None = None,
    engineer: Engineer | None = None,
    stereo: Sequence[bool] | None = None,
) -> torch.Tensor:
    """``(K, P)`` physical settings for ``stems`` by the rules of each role.

    ``stems`` are mono ``(K, T)``, or ``(K, 2, T)`` where ``stereo`` marks the stereo
    tracks (measured on both channels, and kept near their recorded image: a balance
    within :data:`STEREO_BALANCE`). ``engineer`` gives the rules (the default engineer's
    when ``None``); ``style`` is its style for this song (neutral when ``None``);
    ``pan_hints`` place tracks that the arrangement positions as a group (toms across
    the kit, a double-tracked pair).
    ``tastes`` fixes each track's taste in ``[-1, 1]`` (0 is the plain rule) instead of
    drawing it from ``rng``.
    """
    engineer = engineer or ENGINEERS[DEFAULT_ENGINEER]
    style = style or EngineerStyle()
    hints = list(pan_hints) if pan_hints is not None else [None] * stems.shape[0]
    settings = chain.defaults().repeat(stems.shape[0], 1)
    siblings: dict[str, dict[str, ParamSpec]] = {}
    for slot in chain.layout:
        siblings.setdefault(slot.effect_key, {})[slot.spec.name] = slot.spec
    wide = list(stereo) if stereo is not None else [False] * stems.shape[0]
    for k, role in enumerate(roles):
        track = stems[k : k + 1] if stems.dim() == 2 else (
            stems[k] if wide[k] else stems[k].mean(dim=0, keepdim=True))
        facts = TrackFacts(
            role=role,
            loudness_lufs=loudness_lufs(track, sample_rate),
            style=engineer.role_style(role),
            taste=float(rng.uniform(-1.0, 1.0)) if tastes is None else float(tastes[k]),
            session=style,
            pan_hint=hints[k],
            channels=2 if wide[k] else 1,
        )
        for slot in chain.layout:
            settings[k, slot.index] = _value(slot, facts, siblings[slot.effect_key])
    return settings


def _value(slot: ParamSlot, facts: TrackFacts, siblings: dict[str, ParamSpec]) -> float:
    rule = RULES.get(slot.effect_key.split(".", 1)[0])
    value = rule(slot.spec, facts, siblings) if rule is not None else None
    if value is None or not math.isfinite(value):
        return slot.spec.default
    return min(max(float(value), slot.spec.minimum), slot.spec.maximum)


def engineer_mix(
    stems: torch.Tensor,
    names: Sequence[str],
    roles: Sequence[str],
    sample_rate: int,
    spec: str | None = None,
    seed: int = 0,
    plugins: Plugins | None = None,
    style: EngineerStyle | None = None,
    pan_hints: Sequence[float | None] | None = None,
    engineer: Engineer | None = None,
    stereo: Sequence[bool] | None = None,
) -> tuple[torch.Tensor, MixParams]:
    """Mix ``stems`` by the rules; returns the stereo mix ``(2, T)`` and settings.

    ``stems`` are mono ``(K, T)``, or ``(K, 2, T)`` where ``stereo`` marks the stereo
    tracks. ``engineer`` gives the rules (the default engineer's when ``None``).
    """
    chain = EffectChain.from_spec(spec or default_spec(plugins), plugins)
    rng = np.random.default_rng(seed)
    settings = choose_settings(chain, stems, roles, sample_rate, rng, style, pan_hints,
                               engineer=engineer, stereo=stereo)
    channels = [2 if s else 1 for s in stereo] if stereo is not None else None
    params = MixParams.from_tensor(settings, chain.layout, list(names), chain.spec, sample_rate,
                                   channels)
    # The reference is the raw sum: ``console render`` must reproduce it sample for sample.
    params = attrs.evolve(params, master=MasterSettings.off())
    with torch.no_grad():
        mix = render(chain, stems[None], params, sample_rate=sample_rate)[0]
    return mix, params
