"""The ``.ardour`` file of an Ardour 7 session, written from track plans.

Only what Ardour needs is written; Ardour fills every other control with its
default when it loads the session (and writes them all back the first time it
saves it). The layout was learned from sessions Ardour 7.3 writes itself and
from its loader (``Session::set_state``), and is checked by loading and
rendering the result with Ardour's headless exporter in the tests.

Times are superclock counts (``a`` + ticks, 282,240,000 per second), the unit
Ardour 7 stores; every common sample rate divides it, so regions start and end
on exact samples.
"""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET
from collections.abc import Sequence

import attrs

from console.export.ardour_controls import LevelStage, db_to_gain
from console.export.plan import PluginInsert, TrackPlan

#: The session format Ardour 7 writes; Ardour 8 reads it too.
SESSION_VERSION = "7002"
SUPERCLOCKS_PER_SECOND = 282_240_000
_MASTER = "Master"


@attrs.frozen
class SessionTrack:
    """A track plan and the audio files (one mono file per channel, in ``audiofiles``)."""

    plan: TrackPlan
    files: tuple[str, ...]


def superclock(samples: int, sample_rate: int) -> str:
    """Ardour's audio-time string for a sample count."""
    return f"a{round(samples * SUPERCLOCKS_PER_SECOND / sample_rate)}"


class _Ids:
    def __init__(self, start: int = 100) -> None:
        self._next = itertools.count(start)
        self.last = start - 1

    def __call__(self) -> str:
        self.last = next(self._next)
        return str(self.last)


def _value(number: float) -> str:
    """A control value as text: enough digits that Ardour reads back the same float."""
    return repr(float(number))


def _control(parent: ET.Element, name: str, ids: _Ids, value: float, flags: str = "") -> None:
    ET.SubElement(parent, "Controllable", name=name, id=ids(), flags=flags, value=_value(value))


def _level(route: ET.Element, level: LevelStage, ids: _Ids) -> None:
    """Trim then fader, both before any insert."""
    trim = ET.SubElement(route, "Processor", id=ids(), name="Trim", active="1", type="trim")
    _control(trim, "trimcontrol", ids, db_to_gain(level.trim_db), "GainLike")
    amp = ET.SubElement(route, "Processor", id=ids(), name="Amp", active="1", type="amp")
    _control(amp, "gaincontrol", ids, db_to_gain(level.fader_db), "GainLike")


def _io(route: ET.Element, name: str, ids: _Ids, direction: str, channels: int,
        connect: Sequence[str] = ()) -> None:
    io = ET.SubElement(route, "IO", name=name, id=ids(), direction=direction,
                       **{"default-type": "audio"})
    kind = "in" if direction == "Input" else "out"
    for channel in range(channels):
        port = ET.SubElement(io, "Port", type="audio", name=f"{name}/audio_{kind} {channel + 1}")
        if channel < len(connect):
            ET.SubElement(port, "Connection", other=connect[channel])


def _main_outs(route: ET.Element, name: str, ids: _Ids, panner_uri: str = "") -> None:
    outs = ET.SubElement(route, "Processor", id=ids(), name=name, active="1", type="main-outs",
                         role="Main", output=name, **{"own-input": "1", "own-output": "0"})
    ET.SubElement(outs, "PannerShell", bypassed="0",
                  **{"user-panner": panner_uri, "linked-to-route": "1"})


def _master(routes: ET.Element, level: LevelStage, ids: _Ids) -> None:
    route = ET.SubElement(routes, "Route", version=SESSION_VERSION, id=ids(), name=_MASTER,
                          active="1", **{"default-type": "audio", "strict-io": "1"})
    ET.SubElement(route, "PresentationInfo", order="0", flags="MasterOut,OrderSet", color="0")
    _io(route, _MASTER, ids, "Input", 2)
    _io(route, _MASTER, ids, "Output", 2, ("system:playback_1", "system:playback_2"))
    _level(route, level, ids)
    _main_outs(route, _MASTER, ids)


def _click(session: ET.Element, ids: _Ids) -> None:
    """The metronome's output, as Ardour writes it (without it Ardour warns on loading)."""
    click = ET.SubElement(session, "Click")
    _io(click, "Click", ids, "Output", 2, ("system:playback_1", "system:playback_2"))
    amp = ET.SubElement(click, "Processor", id=ids(), name="Amp", active="1", type="amp")
    _control(amp, "gaincontrol", ids, 1.0, "GainLike")


def _plugin(route: ET.Element, insert: PluginInsert, ids: _Ids) -> None:
    node = ET.SubElement(route, "Processor", id=ids(), name=insert.name, active="1", type="lv2",
                         count=str(insert.count), custom="0", **{"unique-id": insert.uri})
    state = ET.SubElement(node, "lv2")
    for port in insert.ports:
        ET.SubElement(state, "Port", symbol=port.symbol, value=_value(port.value))


def _track(routes: ET.Element, track: SessionTrack, order: int, playlist_id: str,
           ids: _Ids) -> str:
    """The track's route; returns its id (its playlist names it)."""
    plan = track.plan
    widens = any(p.outputs > p.inputs for p in plan.plugins)
    route = ET.SubElement(
        routes, "Route", version=SESSION_VERSION, id=ids(), name=plan.name, active="1",
        mode="Normal",
        **{"default-type": "audio", "strict-io": "0" if widens else "1",
           "audio-playlist": playlist_id},
    )
    route_id = route.get("id")
    ET.SubElement(route, "PresentationInfo", order=str(order), flags="AudioTrack,OrderSet",
                  color="0")
    _io(route, plan.name, ids, "Input", plan.channels)
    _io(route, plan.name, ids, "Output", 2, (f"{_MASTER}/audio_in 1", f"{_MASTER}/audio_in 2"))
    pannable = ET.SubElement(route, "Pannable")
    _control(pannable, "pan-azimuth", ids, plan.panner.azimuth)
    _control(pannable, "pan-width", ids, 1.0 if plan.channels == 2 else 0.0)
    _level(route, plan.level, ids)
    for insert in plan.plugins:
        _plugin(route, insert, ids)
    _main_outs(route, plan.name, ids, plan.panner.uri)
    if plan.notes:
        ET.SubElement(route, "Comment").text = "\n".join(plan.notes)
    return route_id


def session_xml(
    name: str,
    sample_rate: int,
    frames: int,
    tracks: Sequence[SessionTrack],
    master: LevelStage,
) -> str:
    """The session file's text: one track per stem, a master bus, the session range."""
    ids = _Ids()
    session = ET.Element("Session", version=SESSION_VERSION, name=name,
                         **{"sample-rate": str(int(sample_rate))})
    config = ET.SubElement(session, "Config")
    for option, value in (("native-file-data-format", "FormatFloat"),
                          ("native-file-header-format", "WAVE")):
        ET.SubElement(config, "Option", name=option, value=value)
    ET.SubElement(session, "Metadata")
    sources = ET.SubElement(session, "Sources")
    source_ids: list[list[str]] = []
    for track in tracks:
        ids_of_track = []
        for file in track.files:
            node = ET.SubElement(sources, "Source", name=file, type="audio", flags="", id=ids(),
                                 channel="0", origin=track.plan.stem)
            node.set("take-id", "")
            ids_of_track.append(node.get("id"))
        source_ids.append(ids_of_track)
    ET.SubElement(session, "Regions")
    ET.SubElement(session, "Bundles")
    locations = ET.SubElement(session, "Locations")
    ET.SubElement(locations, "Location", id=ids(), name="session", start="a0",
                  end=superclock(frames, sample_rate), flags="IsSessionRange")
    routes = ET.SubElement(session, "Routes")
    playlists = ET.SubElement(session, "Playlists")
    _master(routes, master, ids)
    length = superclock(frames, sample_rate)
    for order, (track, track_sources) in enumerate(zip(tracks, source_ids, strict=True), 1):
        playlist_id = ids()
        route_id = _track(routes, track, order, playlist_id, ids)
        playlist = ET.SubElement(playlists, "Playlist", id=playlist_id, name=track.plan.name,
                                 type="audio", frozen="0",
                                 **{"orig-track-id": route_id, "combine-ops": "0"})
        region = ET.SubElement(
            playlist, "Region", name=track.plan.name, id=ids(), type="audio", start="a0",
            length=f"{length}@a0", position="a0",
            channels=str(len(track_sources)),
            **{"whole-file": "0", "fade-in-active": "0", "fade-out-active": "0"},
        )
        for n, source_id in enumerate(track_sources):
            region.set(f"source-{n}", source_id)
            region.set(f"master-source-{n}", source_id)
    ET.SubElement(session, "UnusedPlaylists")
    ET.SubElement(session, "RouteGroups")
    _click(session, ids)
    tempo_map = ET.SubElement(session, "TempoMap",
                              **{"superclocks-per-second": str(SUPERCLOCKS_PER_SECOND)})
    ET.SubElement(ET.SubElement(tempo_map, "Tempos"), "Tempo", npm="120", enpm="120",
                  type="Tempo::Constant", active="1", sclock="0", quarters="0:0", bbt="1|1|0",
                  omega="0", **{"note-type": "4", "locked-to-meter": "0", "continuing": "0"})
    ET.SubElement(ET.SubElement(tempo_map, "Meters"), "Meter", sclock="0", quarters="0:0",
                  bbt="1|1|0", **{"note-value": "4", "divisions-per-bar": "4"})
    ET.SubElement(tempo_map, "MusicTimes")
    session.set("id-counter", str(ids.last + 1))
    ET.indent(session, space="  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(session, "unicode") + "\n"
