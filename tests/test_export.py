"""`console export` without Ardour: the mapping data, the plan, the session XML, the printed
stems, the README and every refusal. The renders by Ardour itself are in test_export_ardour."""

from __future__ import annotations

import json
import math
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from console import Effect, ParamSpec, hookimpl
from console.chain import EffectChain
from console.cli.main import main
from console.export.ardour_controls import (
    FADER_MAX_DB,
    balance_gains,
    balance_panner,
    equal_power_gains,
    level_stage,
    mono_panner,
)
from console.export.ardour_session import SUPERCLOCKS_PER_SECOND
from console.export.compare import compare_renders
from console.export.exporter import PRINTED, export_session
from console.export.folder import MARKER, ExportFolderError
from console.export.mapping import ArdourMapping, LV2Plugin, Panner, Port, Settings
from console.export.plan import plan_tracks, printed_count, track_names
from console.master import MasterSettings
from console.mix_params import MixParams, MixParamsError
from console.plugins import get_plugins
from tests.conftest import write_stems

FULL = "gain+eq:dsp+comp:dsp+reverb:dsp+pan"
LV2_DIRS = [Path("/usr/lib/lv2"), Path("/usr/lib/x86_64-linux-gnu/lv2"), Path("/usr/local/lib/lv2")]


def make_params(stems: list[str], spec: str = "gain+pan", sample_rate: int = 16000,
                master: MasterSettings | None = None, **values: float) -> MixParams:
    """Defaults for every track, with ``key.param=value`` overrides given as ``key__param``."""
    chain = EffectChain.from_spec(spec)
    settings = chain.defaults()[None].repeat(len(stems), 1)
    params = MixParams.from_tensor(settings, chain.layout, stems, chain.spec, sample_rate)
    for name, value in values.items():
        key, param = name.split("__")
        for stem in stems:
            params = params.with_value(stem, key, param, value)
    return MixParams(spec=params.spec, sample_rate=sample_rate, tracks=params.tracks,
                     master=master)


def stems_of(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# -- the mapping data every effect declares ------------------------------------------------


def registered_effects():
    return {name: c.factory for name, c in get_plugins().registry("effect").items()}


@pytest.mark.parametrize("name", sorted(registered_effects()))
def test_every_built_in_effect_maps_or_excuses_each_parameter(name):
    effect = registered_effects()[name]
    mapping = effect.ardour
    assert mapping is not None, f"{name} declares no Ardour mapping"
    assert mapping.problems(tuple(p.name for p in effect.params)) == []


def lv2_ports(uri: str) -> dict[str, tuple[float, float]] | None:
    """Port symbols and ranges from the installed plugin's Turtle file (None if absent)."""
    bundle, _, variant = uri.removeprefix("urn:ardour:").partition("#")
    for root in LV2_DIRS:
        ttl = root / f"{bundle}.lv2" / (f"{bundle}#{variant}.ttl" if variant else f"{bundle}.ttl")
        if ttl.is_file():
            text = ttl.read_text()
            ports = {}
            for block in text.split("lv2:index")[1:]:
                symbol = re.search(r'lv2:symbol\s+"([^"]+)"', block)
                low = re.search(r"lv2:minimum\s+([-0-9.]+)", block)
                high = re.search(r"lv2:maximum\s+([-0-9.]+)", block)
                if symbol:
                    ports[symbol.group(1)] = (float(low.group(1)) if low else None,
                                              float(high.group(1)) if high else None)
            return ports
    return None


@pytest.mark.parametrize("name", ["eq:dsp", "comp:dsp", "reverb:dsp"])
def test_port_symbols_and_ranges_are_those_of_the_installed_plugins(name):
    plugin = next(t for t in registered_effects()[name].ardour.targets
                  if isinstance(t, LV2Plugin))
    for uri in filter(None, (plugin.uri, plugin.stereo_uri)):
        ports = lv2_ports(uri)
        if ports is None:
            pytest.skip("ardour-lv2-plugins is not installed")
        for port in plugin.ports:
            assert port.symbol in ports, (uri, port.symbol)
            if math.isfinite(port.minimum):
                assert (port.minimum, port.maximum) == ports[port.symbol], (uri, port.symbol)


def test_the_docs_table_names_every_port_and_every_excused_parameter():
    page = (Path(__file__).resolve().parents[1] / "docs" / "daw-export.rst").read_text()
    for name in ("gain", "pan", "eq:dsp", "comp:dsp", "reverb:dsp"):
        mapping = registered_effects()[name].ardour
        key = name.split(":")[0]
        for target in mapping.targets:
            for port in getattr(target, "ports", ()):
                if port.sources:  # the first of a numbered family stands for all of it
                    assert f"``{re.sub(r'[23]$', '1', port.symbol)}``" in page, port.symbol
            for source in target.sources:
                assert f"``{key}.{re.sub(r'band[23]', 'band1', source)}``" in page, source
        for parameter in mapping.unmapped:
            assert f"{key}.{parameter}" in page, parameter


def test_a_mapping_that_forgets_or_invents_a_parameter_is_reported():
    mapping = ArdourMapping(targets=(Panner(lambda s: (1.0, 1.0), ("pan", "ghost")),))
    problems = mapping.problems(("pan", "width"))
    assert any("ghost" in p for p in problems) and any("width" in p for p in problems)


# -- Ardour's own laws -----------------------------------------------------------------------


@pytest.mark.parametrize("pan", [-1.0, -0.63, -0.2, 0.0, 0.01, 0.5, 0.9, 1.0])
def test_the_panner_setting_reproduces_our_gains_exactly(pan):
    theta = (pan + 1) * math.pi / 4
    for left, right, solve, law in (
        (math.cos(theta), math.sin(theta), mono_panner, equal_power_gains),
        (math.sqrt(2) * math.cos(theta), math.sqrt(2) * math.sin(theta), balance_panner,
         balance_gains),
    ):
        setting = solve(left, right)
        got_left, got_right = law(setting.azimuth)
        scale = 10 ** (setting.correction_db / 20)
        assert got_left * scale == pytest.approx(left, abs=1e-9)
        assert got_right * scale == pytest.approx(right, abs=1e-9)
    assert abs(mono_panner(math.cos(theta), math.sin(theta)).correction_db) < 0.1


def test_the_level_goes_on_the_fader_and_the_trim_takes_what_it_cannot_reach():
    assert level_stage(-12.0).fader_db == -12.0 and level_stage(-12.0).trim_db == 0.0
    high = level_stage(20.0)
    assert high.fader_db == pytest.approx(FADER_MAX_DB) and high.total_db == pytest.approx(20.0)
    assert not high.held and level_stage(40.0).held


# -- the plan ----------------------------------------------------------------------------------


def test_gain_and_pan_become_fader_and_panner():
    chain = EffectChain.from_spec("gain+pan")
    settings = torch.tensor([[-6.0, -0.5], [12.0, 0.0]])
    bass, lead = plan_tracks(chain, settings, ["bass.wav", "lead.wav"], 44100)
    assert bass.plugins == () and bass.printed == ()
    assert bass.level.total_db == pytest.approx(-6.0 + bass.panner.correction_db)
    assert bass.panner.azimuth < 0.5 and bass.panner.uri.endswith("panner_1in2out")
    assert lead.level.total_db == pytest.approx(12.0 - 0.0103, abs=1e-3)
    assert lead.level.trim_db > 0
    assert [d.kind for d in bass.decisions] == ["fader", "panner"]


def test_the_full_chain_becomes_three_inserts_after_the_fader():
    chain = EffectChain.from_spec(FULL)
    params = make_params(["a.wav"], FULL, 44100, eq__band1_q=0.7071067811865476,
                         eq__low_shelf_gain_db=12.0, eq__low_shelf_freq_hz=200.0,
                         eq__high_shelf_gain_db=-8.0, eq__high_shelf_freq_hz=6000.0,
                         comp__knee_db=12.0, reverb__decay_s=1.2, reverb__mix=0.3)
    (plan,) = plan_tracks(chain, chain.to_tensor(params), ["a.wav"], 44100)
    eq, comp, reverb = plan.plugins
    assert (eq.uri, comp.uri, reverb.uri) == ("urn:ardour:a-eq", "urn:ardour:a-comp",
                                              "urn:ardour:a-reverb")
    ports = {p.symbol: p.value for p in eq.ports}
    assert ports["bw1"] == pytest.approx(1.9, abs=1e-3)  # Q 0.707 is 1.9 octaves
    assert ports["freql"] == pytest.approx(200.0 / 10 ** (12 / 80))
    assert ports["freqh"] == pytest.approx(6000.0 * 10 ** (-8 / 80))
    assert ports["filtog4"] == 0.0
    assert {p.symbol: p.value for p in comp.ports}["kn"] == pytest.approx(2.0)
    assert {p.symbol: p.value for p in reverb.ports}["blend"] == pytest.approx(0.3)
    assert (reverb.inputs, reverb.outputs) == (1, 2)
    assert plan.panner.uri.endswith("panner_balance")  # the reverb made the track stereo
    unmapped = {d.parameter for d in plan.unmapped}
    assert unmapped == {"eq.low_shelf_q", "eq.high_shelf_q", "reverb.predelay_ms",
                        "reverb.brightness", "reverb.width"}


def test_thresholds_follow_what_the_fader_carries_for_later_stages():
    chain = EffectChain.from_spec(FULL)
    params = make_params(["a.wav"], FULL, 44100, pan__pan=0.45, comp__threshold_db=-20.0)
    (plan,) = plan_tracks(chain, chain.to_tensor(params), ["a.wav"], 44100)
    correction = plan.panner.correction_db  # the reverb made it stereo: balance law, +2.1 dB
    assert correction == pytest.approx(20 * math.log10(math.sqrt(2) * math.sin(1.45 * math.pi / 4)))
    threshold = {p.symbol: p.value for p in plan.plugins[1].ports}["thr"]
    assert threshold == pytest.approx(-20.0 + correction)
    assert any("thr moved +2.1" in note for note in plan.notes)
    late = EffectChain.from_spec("comp:dsp+gain+pan")  # a gain after the compressor
    params = make_params(["a.wav"], "comp:dsp+gain+pan", 44100, gain__gain_db=-6.0,
                         comp__threshold_db=-20.0)
    (plan,) = plan_tracks(late, late.to_tensor(params), ["a.wav"], 44100)
    threshold = {p.symbol: p.value for p in plan.plugins[0].ports}["thr"]
    assert threshold == pytest.approx(-26.0 + plan.panner.correction_db)


def test_values_beyond_a_port_are_held_and_noted():
    chain = EffectChain.from_spec(FULL)
    params = make_params(["a.wav"], FULL, 44100, eq__band2_gain_db=24.0, eq__band2_q=0.1,
                         reverb__decay_s=6.0)
    (plan,) = plan_tracks(chain, chain.to_tensor(params), ["a.wav"], 44100)
    eq = {p.symbol: p for p in plan.plugins[0].ports}
    assert eq["g2"].value == 20.0 and eq["g2"].wanted == 24.0
    assert eq["bw2"].value == 4.0
    notes = " ".join(plan.notes)
    assert "g2 wanted 24 dB, held at 20" in notes and "roomsz" in notes


def test_a_reverb_room_size_never_lands_where_a_reverb_ignores_it():
    from console_effects.reverb import a_reverb_room_size

    sizes = [a_reverb_room_size(d) for d in np.linspace(0.7, 2.6, 400)]
    assert all(not 0.74 < s < 0.76 for s in sizes)
    assert sizes == sorted(sizes)


class Fuzz(Effect):
    """A third-party effect that declares no DAW mapping."""

    name = "fuzz"
    description = "Soft clipping."
    params = (ParamSpec("drive", "ratio", 1.0, 10.0, 2.0),)

    def process(self, x, params, sample_rate):
        drive = self.unpack(params)["drive"]
        return torch.tanh(x * drive) / drive


class Wide(Effect):
    """A third-party stereo widener with its own (made-up) Ardour mapping."""

    name = "wide"
    description = "Mono to identical stereo."
    params = (ParamSpec("amount", "fraction", 0.0, 1.0, 0.5),)
    ardour = ArdourMapping(targets=(LV2Plugin(
        "urn:example:wide", "Wide", outputs=2,
        ports=(Port("amt", lambda s: s["amount"] * 100.0, ("amount",), "%", 0.0, 100.0),)),))

    def output_channels(self, in_channels):
        return 2

    def process(self, x, params, sample_rate):
        return x.expand(-1, 2, -1)


class ThirdParty:
    @hookimpl
    def register_effects(self, register):
        register(Fuzz)
        register(Wide)


@pytest.fixture
def third_party():
    with get_plugins().temporary(ThirdParty()):
        yield


def test_an_effect_without_a_mapping_is_printed_and_the_rest_mapped(third_party):
    chain = EffectChain.from_spec("gain+fuzz+eq:dsp+pan")
    assert printed_count(chain) == 2
    (plan,) = plan_tracks(chain, chain.defaults()[None], ["a.wav"], 44100)
    assert plan.printed == ("gain", "fuzz") and plan.channels == 1
    assert [p.uri for p in plan.plugins] == ["urn:ardour:a-eq"]
    assert plan.level.total_db == pytest.approx(plan.panner.correction_db)  # gain is printed
    assert "no Ardour mapping for fuzz" in plan.notes[0]
    assert {d.kind for d in plan.decisions[:2]} == {"printed"}


def test_a_third_party_mapping_is_used_like_a_built_in_one(third_party):
    chain = EffectChain.from_spec("gain+wide+pan")
    (plan,) = plan_tracks(chain, torch.tensor([[0.0, 0.25, 0.0]]), ["a.wav"], 44100)
    (wide,) = plan.plugins
    assert (wide.uri, wide.count, wide.outputs) == ("urn:example:wide", 1, 2)
    assert wide.ports[0].value == 25.0
    assert plan.panner.uri.endswith("panner_balance")


def test_track_names_are_legal_for_ardour_and_unique():
    names = track_names(["kick.wav", "kick.flac", "a:b;c.wav", "Master.wav", ".hidden"])
    assert names == ["kick", "kick-2", "a_b_c", "Master-2", ".hidden"]


def test_settings_read_like_a_mapping():
    settings = Settings({"a": 1, "b": 2.5}, 48000, 2)
    assert dict(settings) == {"a": 1, "b": 2.5} and settings["a"] == 1.0 and len(settings) == 2


# -- the export folder -----------------------------------------------------------------------


@pytest.fixture
def stems(tmp_path):
    folder = tmp_path / "stems"
    write_stems(folder, 3, seconds=0.5)
    return folder


def export(stems: Path, params: MixParams, tmp_path: Path, name: str = "session", **kw):
    path = tmp_path / "params.json"
    params.save(path)
    return export_session(stems, params, tmp_path / name, params_label=str(path), **kw)


def test_the_session_file_is_ardour_7_xml_with_a_track_per_stem(stems, tmp_path):
    params = make_params(stems_of(stems), FULL, master=MasterSettings())
    result = export(stems, params, tmp_path)
    folder = result.folder
    root = ET.parse(result.session_file).getroot()
    assert root.tag == "Session" and root.get("version") == "7002"
    assert root.get("sample-rate") == "16000"
    for section in ("Config", "Metadata", "Sources", "Regions", "Locations", "Routes",
                    "Playlists", "UnusedPlaylists", "RouteGroups", "TempoMap"):
        assert root.find(section) is not None, section
    ids = [int(node.get("id")) for node in root.iter() if node.get("id")]
    assert len(ids) == len(set(ids)) and int(root.get("id-counter")) > max(ids)
    routes = root.find("Routes").findall("Route")
    assert [r.get("name") for r in routes] == ["Master", "stem00", "stem01", "stem02"]
    audio = folder / "interchange" / "session" / "audiofiles"
    for source in root.find("Sources"):
        assert (audio / source.get("name")).is_file()
    end = root.find("Locations/Location").get("end")
    assert end == f"a{8000 * SUPERCLOCKS_PER_SECOND // 16000}"
    track = routes[1]
    kinds = [p.get("type") for p in track.findall("Processor")]
    assert kinds == ["trim", "amp", "lv2", "lv2", "lv2", "main-outs"]
    assert [p.get("unique-id") for p in track.findall("Processor[@type='lv2']")] == [
        "urn:ardour:a-eq", "urn:ardour:a-comp", "urn:ardour:a-reverb"]
    assert track.get("strict-io") == "0"  # the reverb widens the mono track
    region = root.find("Playlists/Playlist/Region")
    assert region.get("fade-in-active") == "0" and region.get("length").endswith("@a0")
    assert (folder / MARKER).is_file() and (folder / "README.md").is_file()
    assert MixParams.load(folder / "mix.params.json") == params


def test_printed_stems_add_up_to_console_render(stems, tmp_path):
    params = make_params(stems_of(stems), FULL, master=MasterSettings(),
                         gain__gain_db=-3.0, pan__pan=0.4, comp__threshold_db=-30.0)
    result = export(stems, params, tmp_path)
    printed = sorted((result.folder / PRINTED).iterdir())
    assert [p.name for p in printed] == ["stem00.wav", "stem01.wav", "stem02.wav"]
    total = 0
    for path in printed:
        audio, rate = sf.read(path, always_2d=True)
        assert audio.shape == (8000, 2) and rate == 16000
        assert sf.info(path).subtype == "FLOAT"
        total = total + audio
    assert main(["render", str(stems), str(tmp_path / "params.json"), "-o",
                 str(tmp_path / "render.wav"), "--no-master", "-q"]) == 0
    rendered, _ = sf.read(tmp_path / "render.wav", always_2d=True)
    np.testing.assert_allclose(total, rendered, atol=1e-6)
    # the export's mix has the master stage of the params file, like `console render`
    assert main(["render", str(stems), str(tmp_path / "params.json"), "-o",
                 str(tmp_path / "mastered.wav"), "-q"]) == 0
    mastered, _ = sf.read(tmp_path / "mastered.wav", always_2d=True)
    np.testing.assert_allclose(result.mix.numpy().T, mastered, atol=1e-6)
    master = ET.parse(result.session_file).getroot().find(
        "Routes/Route[@name='Master']/Processor[@type='amp']/Controllable")
    assert 20 * math.log10(float(master.get("value"))) == pytest.approx(
        result.master.gain_db, abs=1e-6)


def test_a_file_without_a_master_stage_gets_the_default_one_like_render(stems, tmp_path):
    result = export(stems, make_params(stems_of(stems)), tmp_path)
    assert result.master.settings == MasterSettings()
    off = export(stems, make_params(stems_of(stems)), tmp_path, "off",
                 master_settings=MasterSettings.off())
    assert off.master.gain_db == 0.0 and off.master_level.total_db == 0.0


def test_the_session_plays_the_dry_stems_at_the_mix_rate(tmp_path):
    folder = tmp_path / "stems"
    folder.mkdir()
    sf.write(folder / "a.wav", np.full((3000, 2), 0.25, np.float32), 8000)  # stereo, 8 kHz
    sf.write(folder / "b.wav", np.full(4000, 0.5, np.float32), 16000)
    params = make_params(["a.wav", "b.wav"], "gain+pan", 16000)
    result = export(folder, params, tmp_path)
    audio = result.folder / "interchange" / "session" / "audiofiles"
    a, rate = sf.read(audio / "a.wav")
    assert rate == 16000 and a.shape == (6000,) and np.abs(a[100:5000] - 0.25).max() < 1e-3
    b, _ = sf.read(audio / "b.wav")
    assert b.shape == (6000,) and np.all(b[4000:] == 0)  # padded to the longest, like render


def test_printed_tracks_play_their_printed_audio(stems, tmp_path, third_party):
    params = make_params(stems_of(stems), "gain+wide+fuzz+pan", gain__gain_db=6.0)
    result = export(stems, params, tmp_path)
    root = ET.parse(result.session_file).getroot()
    names = [s.get("name") for s in root.find("Sources")]
    assert names[:2] == ["stem00-L.wav", "stem00-R.wav"]  # printed through the stereo widener
    region = root.find("Playlists/Playlist/Region")
    assert region.get("channels") == "2" and region.get("source-1") is not None
    assert "printed into the audio" in root.find("Routes/Route[@name='stem00']/Comment").text
    audio, _ = sf.read(result.folder / "interchange" / "session" / "audiofiles" / names[0])
    dry, _ = sf.read(stems / "stem00.wav")
    expected = np.tanh(dry * 2 * 2) / 2  # +6 dB (x2) into the fuzz at drive 2
    np.testing.assert_allclose(audio, expected, atol=2e-3)


def test_the_readme_lists_every_decision_and_where_it_went(stems, tmp_path):
    params = make_params(stems_of(stems), FULL, master=MasterSettings(), eq__band1_gain_db=22.0)
    result = export(stems, params, tmp_path)
    readme = (result.folder / "README.md").read_text()
    for track in params.tracks:
        assert f"(`{track.name}`)" in readme
        for key, values in track.effects.items():
            for name in values:
                assert f"`{key}.{name}`" in readme
    assert readme.count("ACE EQ g1 = 20 dB") == 3 and "held at 20" in readme
    assert "nothing: a-Reverb has no pre-delay" in readme
    assert "master bus" in readme and "Session > Open" in readme


def test_the_cli_exports_and_summarises(stems, tmp_path, capsys):
    params_path = tmp_path / "mix.params.json"
    make_params(stems_of(stems), "gain+pan", gain__gain_db=-4.0).save(params_path)
    out = tmp_path / "song"
    assert main(["export", str(stems), str(params_path), "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "stem00" in text and "song.ardour" in text
    assert (out / "song.ardour").is_file()


# -- refusals ----------------------------------------------------------------------------------


def run_export(stems, params_path, out, *extra):
    return main(["export", str(stems), str(params_path), "-o", str(out), "-q", *extra])


def test_an_existing_folder_is_refused_unless_forced_and_ours(stems, tmp_path, capsys):
    params_path = tmp_path / "p.json"
    make_params(stems_of(stems)).save(params_path)
    out = tmp_path / "song"
    assert run_export(stems, params_path, out) == 0
    (out / "my-recording.wav").write_bytes(b"take 1")
    assert run_export(stems, params_path, out) == 2
    assert "already exists; choose another folder" in capsys.readouterr().err
    assert (out / "my-recording.wav").read_bytes() == b"take 1"
    assert run_export(stems, params_path, out, "--force") == 0
    assert not (out / "my-recording.wav").exists() and (out / "song.ardour").is_file()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".song")] == []
    foreign = tmp_path / "Documents"
    foreign.mkdir()
    (foreign / "thesis.txt").write_text("years of work")
    assert run_export(stems, params_path, foreign, "--force") == 2
    assert "not written by `console export`" in capsys.readouterr().err
    assert (foreign / "thesis.txt").read_text() == "years of work"


@pytest.mark.parametrize("change, message", [
    (lambda p: p.tracks[:-1], "stems with no settings"),
    (lambda p: [*p.tracks, p.tracks[0].__class__("ghost.wav", p.tracks[0].effects)],
     "no such files"),
])
def test_params_that_do_not_fit_the_stems_are_one_clear_error(stems, tmp_path, capsys, change,
                                                               message):
    params = make_params(stems_of(stems))
    params = MixParams(spec=params.spec, sample_rate=params.sample_rate, tracks=change(params))
    params.save(tmp_path / "p.json")
    assert run_export(stems, tmp_path / "p.json", tmp_path / "song") == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "song").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_params_for_another_chain_are_refused_before_any_audio(stems, tmp_path, capsys):
    data = json.loads(make_params(stems_of(stems)).to_json())
    data["spec"] = "gain+eq:dsp+pan"
    (tmp_path / "p.json").write_text(json.dumps(data))
    assert run_export(stems, tmp_path / "p.json", tmp_path / "song") == 2
    assert "is missing eq." in capsys.readouterr().err
    with pytest.raises(MixParamsError):
        export_session(stems, MixParams.from_json(json.dumps(data)), tmp_path / "song")


@pytest.mark.parametrize("where", ["stems", "inside-stems", "around-params", "colon"])
def test_folders_that_overlap_inputs_or_ardour_cannot_name_are_refused(stems, tmp_path, where):
    params_path = tmp_path / "area" / "p.json"
    params_path.parent.mkdir()
    params = make_params(stems_of(stems))
    params.save(params_path)
    out = {"stems": stems, "inside-stems": stems / "session", "around-params": tmp_path / "area",
           "colon": tmp_path / "a:b"}[where]
    before = sorted(p.name for p in stems.iterdir())
    with pytest.raises(ExportFolderError):
        export_session(stems, params, out, force=True, protected=[params_path])
    assert sorted(p.name for p in stems.iterdir()) == before and params_path.is_file()


def test_mix_export_writes_the_session_after_the_mix(stems, tmp_path, tiny_console):
    checkpoint = tmp_path / "tiny.pt"
    tiny_console().save(checkpoint)
    out = tmp_path / "out"
    argv = ["mix", str(stems), "-o", str(out / "mix.wav"), "--checkpoint", str(checkpoint),
            "--export", str(out / "session"), "-q"]
    assert main(argv) == 0
    params = MixParams.load(out / "mix.params.json")
    assert MixParams.load(out / "session" / "mix.params.json") == params
    mixed, _ = sf.read(out / "mix.wav", always_2d=True)
    printed = sum(sf.read(p, always_2d=True)[0] for p in (out / "session" / PRINTED).iterdir())
    master = ET.parse(out / "session" / "session.ardour").getroot().find(
        "Routes/Route[@name='Master']")
    gain = math.prod(float(p.find("Controllable").get("value"))
                     for p in master.findall("Processor")[:2])  # trim and fader
    np.testing.assert_allclose(printed * gain, mixed, atol=1e-5)
    (out / "mix.wav").unlink()
    assert main(argv) == 2  # the session folder exists: refused before anything is mixed
    assert not (out / "mix.wav").exists()


def test_check_without_ardour_fails_before_writing(stems, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("console.cli.export.find_exporter", lambda: None)
    make_params(stems_of(stems)).save(tmp_path / "p.json")
    assert run_export(stems, tmp_path / "p.json", tmp_path / "song", "--check") == 2
    assert "ardour7-export" in capsys.readouterr().err and not (tmp_path / "song").exists()


def test_compare_finds_level_residual_and_lag():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((2, 4000))
    b = np.roll(a, 3, axis=1) * 10 ** (1 / 20)
    result = compare_renders(a, b)
    assert result.lag == 3 and result.channels[0].level_db == pytest.approx(1.0, abs=1e-6)
    same = compare_renders(a, a)
    assert same.lag == 0 and same.worst_residual_db == -math.inf
    assert "sample-aligned" in same.describe()
