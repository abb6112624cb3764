"""The data an effect declares so that a DAW can take over its decisions.

An effect class sets :attr:`console.effect.Effect.ardour` to an
:class:`ArdourMapping`: which Ardour control each of its parameters becomes,
through which unit conversion, and which parameters have no counterpart (and
why). The exporter reads nothing else, so a third-party effect maps itself the
same way a built-in one does; an effect without a mapping is printed (rendered
into the track's audio) instead.

Three kinds of target exist, because an Ardour track has three kinds of control:
the level stage (:class:`Fader`: trim and fader, which add in dB), the panner
(:class:`Panner`: the effect gives its own left/right gains and the exporter finds
the Ardour panner setting with the same ratio), and plugin inserts
(:class:`LV2Plugin`, one control port at a time through :class:`Port`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from typing import Union

import attrs


@attrs.frozen
class Settings(Mapping[str, float]):
    """One track's settings of one effect, with what a conversion may need besides them."""

    values: Mapping[str, float]
    sample_rate: int
    #: Channels entering the effect: 1 for a mono track, 2 once a stereo effect ran.
    channels: int = 1

    def __getitem__(self, name: str) -> float:
        return float(self.values[name])

    def __iter__(self) -> Iterator[str]:
        return iter(self.values)

    def __len__(self) -> int:
        return len(self.values)


#: A unit conversion: from the effect's settings to one control value.
Convert = Callable[[Settings], float]


@attrs.frozen
class Port:
    """One control port of an LV2 plugin, set from the effect's settings.

    ``value`` is a number for a port that is fixed (a band switched off) or a
    conversion. ``minimum``/``maximum`` are the port's range as the plugin
    declares it: a value outside is held at the edge and the export says so.
    ``sources``, ``unit`` and ``note`` are for people: the docs table and the
    README list them.

    ``follows_level`` marks a level in dB that is compared with the signal (a
    compressor's threshold). Ardour's level stage sits before every insert, so
    when it also carries a level that belongs after this plugin (the difference
    between Ardour's pan law and ours, a gain placed later in the chain), such a
    port moves by the same amount and the plugin acts as ours does.
    """

    symbol: str
    value: Convert | float
    sources: tuple[str, ...] = ()
    unit: str = ""
    minimum: float = -math.inf
    maximum: float = math.inf
    note: str = ""
    follows_level: bool = False

    def raw(self, settings: Settings, level_offset_db: float = 0.0) -> float:
        """The converted value before it is held in the port's range.

        ``level_offset_db``: the level Ardour's fader adds ahead of the plugin on
        behalf of a later stage (it moves only ports that follow the level).
        """
        value = float(self.value(settings) if callable(self.value) else self.value)
        return value + level_offset_db if self.follows_level else value

    def clamp(self, value: float) -> float:
        return min(max(value, self.minimum), self.maximum)


@attrs.frozen
class LV2Plugin:
    """An LV2 plugin inserted on the track, with every control port it needs set.

    Ports left out keep the plugin's defaults. ``stereo_uri`` names a variant for
    stereo input; without one Ardour runs the mono plugin once per channel.
    ``outputs`` is the channel count it produces (``None``: as many as come in).
    """

    uri: str
    name: str
    ports: tuple[Port, ...]
    stereo_uri: str | None = None
    outputs: int | None = None

    def uri_for(self, channels: int) -> tuple[str, int]:
        """The plugin to insert for ``channels`` input, and how many copies Ardour runs."""
        if channels > 1 and self.stereo_uri is not None:
            return self.stereo_uri, 1
        return self.uri, (1 if self.outputs is not None else channels)

    @property
    def sources(self) -> set[str]:
        return {name for port in self.ports for name in port.sources}


@attrs.frozen
class Fader:
    """A level change in dB, added to the track's level stage (Ardour's trim and fader)."""

    gain_db: Convert
    sources: tuple[str, ...]
    note: str = ""


@attrs.frozen
class Panner:
    """The track's panner, from the effect's own left and right gains.

    ``gains`` returns the linear gains this effect gives the left and right
    outputs (for a mono input, or each side of a stereo one). The exporter picks
    Ardour's panner for the channel count and the position with the same
    left/right ratio; the level it differs by goes to the level stage.
    """

    gains: Callable[[Settings], tuple[float, float]]
    sources: tuple[str, ...]
    note: str = ""


Target = Union[LV2Plugin, Fader, Panner]  # noqa: UP007 - a runtime alias for Python 3.10


@attrs.frozen
class ArdourMapping:
    """Where an effect's parameters go in an Ardour session, and which have no home there.

    ``unmapped`` maps a parameter name to one sentence saying why Ardour's plugin
    has nothing like it; the README lists those for every track.
    """

    targets: tuple[Target, ...]
    unmapped: Mapping[str, str] = attrs.field(factory=dict)

    @property
    def sources(self) -> set[str]:
        """Every parameter a target reads."""
        found: set[str] = set()
        for target in self.targets:
            found |= set(target.sources)
        return found

    def problems(self, parameter_names: tuple[str, ...]) -> list[str]:
        """What does not fit the effect's parameters: names unknown, or neither used nor excused."""
        names = set(parameter_names)
        out = []
        unknown = (self.sources | set(self.unmapped)) - names
        if unknown:
            out.append(f"names parameters the effect does not have: {sorted(unknown)}")
        forgotten = names - self.sources - set(self.unmapped)
        if forgotten:
            out.append(f"neither maps nor excuses {sorted(forgotten)}")
        return out
