"""Stereo stems stay stereo: through the console, params.json, render and the export plan.

(Ardour's own render of a session with stereo stems is in tests/test_export_ardour.py.)
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
import torch

from console import Console
from console.audio import StemReader, load_stems
from console.chain import EffectChain
from console.cli.main import main
from console.decisions import Decisions
from console.errors import AudioInputError
from console.export.plan import plan_tracks
from console.mix_params import MixParams, MixParamsError
from console.plugins import get_plugins
from console.stereo import check_stereo
from tests.conftest import error_line

RATE = 16000


def _energy_db(x: torch.Tensor | np.ndarray) -> float:
    x = torch.as_tensor(np.asarray(x, dtype=np.float64))
    return float(10 * torch.log10(x.pow(2).sum().clamp_min(1e-30)))


def write_folder(folder, seconds: float = 1.0, rate: int = RATE) -> None:
    """A hard-left stereo stem, an out-of-phase one, one saved twice as stereo, a mono bass."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(3)
    t = np.arange(int(seconds * rate)) / rate
    keys = 0.3 * np.sin(2 * np.pi * 330 * t) * np.exp(-(t % 0.25) * 8)
    pad = np.convolve(rng.standard_normal(t.size), np.ones(20) / 20, "same")
    tone = 0.2 * np.sin(2 * np.pi * 660 * t)
    stereo = {
        "keys.wav": np.stack([keys, np.zeros_like(keys)], 1),
        "pad.wav": np.stack([pad, -pad], 1),
        "twice.wav": np.stack([tone, tone], 1),
        "bass.wav": 0.3 * np.sin(2 * np.pi * 55 * t),
    }
    for name, audio in stereo.items():
        sf.write(folder / name, audio.astype(np.float32), rate, subtype="FLOAT")


@pytest.fixture
def folder(tmp_path):
    write_folder(tmp_path / "stems")
    return tmp_path / "stems"


def test_loading_keeps_stereo_stems_and_calls_a_doubled_mono_file_mono(folder):
    stems = load_stems(folder)
    assert stems.names == ["bass.wav", "keys.wav", "pad.wav", "twice.wav"]
    assert stems.channels == [1, 2, 2, 1]
    assert stems.audio.shape[:2] == (4, 2)
    assert torch.equal(stems.audio[0, 0], stems.audio[0, 1])  # a mono track on both sides
    assert float(stems.audio[1, 1].abs().max()) == 0.0  # the hard-left stem stays left
    assert any("twice.wav" in n and "identical" in n for n in stems.notes)
    assert any("pad.wav" in n and "out of phase" in n for n in stems.notes)
    mono = load_stems(folder, stereo=False)
    assert mono.audio.dim() == 2 and mono.channels == [1, 1, 1, 1]
    silent = check_stereo("silent.wav", torch.zeros(2, RATE))
    assert silent.channels == 1 and silent.notes() == []  # its silence is said elsewhere


def test_more_than_two_channels_are_refused_in_one_line(folder, tmp_path, capsys):
    surround = 0.1 * np.random.default_rng(0).standard_normal((RATE, 6)).astype(np.float32)
    sf.write(folder / "surround.wav", surround, RATE, subtype="FLOAT")
    with pytest.raises(AudioInputError, match="6 channels"):
        StemReader(folder / "surround.wav", RATE, channels=2)
    assert main(["mix", str(folder), "-o", str(tmp_path / "m.wav"), "-q"]) == 2
    assert "surround.wav has 6 channels" in error_line(capsys)
    assert not (tmp_path / "m.wav").exists()
    # the library averages it to a mono track, and says so, as before stereo tracks
    loaded = load_stems(folder)
    assert loaded.channels[loaded.names.index("surround.wav")] == 1
    assert any("surround.wav: 6 channels averaged to mono (split" in n for n in loaded.notes)
    # a mix from before stereo tracks averaged it: it still renders so, and says so
    averaged = load_stems(folder, stereo=False)
    assert any("surround.wav: 6 channels averaged" in n for n in averaged.notes)
    with StemReader(folder / "surround.wav", RATE) as reader:
        np.testing.assert_allclose(reader.read(RATE).numpy(), surround.mean(1), atol=1e-6)
    tracks = [{"name": n, "effects": {"gain": {"gain_db": 0.0}, "pan": {"pan": 0.0}}}
              for n in averaged.names]
    MixParams.from_json(json.dumps({
        "spec": "gain+pan", "sample_rate": RATE, "format": "console-mix-params", "version": 2,
        "tracks": tracks})).save(tmp_path / "old.params.json")
    capsys.readouterr()
    assert main(["render", str(folder), str(tmp_path / "old.params.json"), "-o",
                 str(tmp_path / "old.wav")]) == 0
    assert "surround.wav: 6 channels averaged to mono" in capsys.readouterr().err


def test_an_out_of_phase_stem_keeps_its_energy_and_is_flagged():
    t = torch.arange(RATE) / RATE
    pad = 0.3 * torch.sin(2 * torch.pi * 200 * t)
    check = check_stereo("pad.wav", torch.stack([pad, -pad]))
    assert check.channels == 2 and check.out_of_phase
    assert "out of phase" in check.notes()[0]
    chain = EffectChain.from_spec("gain+pan")
    out = chain(torch.stack([pad, -pad])[None], chain.defaults()[None], RATE)
    # kept as stereo at neutral balance: every sample as recorded, nothing cancels
    assert abs(_energy_db(out) - _energy_db(torch.stack([pad, -pad]))) < 6.0
    # what a mono down-mix would have done
    assert _energy_db(out.sum(1)) < _energy_db(out) - 60


@pytest.mark.parametrize("spec", ["gain+pan", "gain+eq:dsp+comp:dsp+pan",
                                  "gain+eq+comp+pan", "gain+eq+comp+reverb:dsp+pan"])
def test_a_hard_left_stereo_stem_stays_left_at_neutral_balance(spec):
    """The 20 dB of the issue's bar, through every built-in effect that keeps an image (a
    reverb rings on both sides, so the reverb's mix is off here)."""
    t = torch.arange(RATE) / RATE
    keys = 0.3 * torch.sin(2 * torch.pi * 330 * t)
    track = torch.stack([keys, torch.zeros_like(keys)])[None]
    chain = EffectChain.from_spec(spec)
    params = chain.defaults()[None].clone()
    for slot in chain.layout:
        if slot.spec.name == "mix":
            params[0, slot.index] = 0.0
        if slot.spec.name == "threshold_db":
            params[0, slot.index] = -30.0  # compress hard: a linked detector keeps the image
    with torch.no_grad():
        out = chain(track, params, RATE, torch.tensor([True]))[0]
    assert _energy_db(out[0]) - _energy_db(out[1]) >= 20.0


def test_a_stereo_compressor_is_linked():
    """One detector for both sides: the gain on the quiet side follows the loud one."""
    t = torch.arange(RATE) / RATE
    loud = 0.8 * torch.sin(2 * torch.pi * 220 * t) * (t > 0.5)
    quiet = 0.05 * torch.sin(2 * torch.pi * 330 * t)
    track = torch.stack([loud, quiet])[None]
    for spec in ("comp:dsp", "comp:greybox"):
        chain = EffectChain.from_spec(spec)
        params = chain.defaults()[None].clone()
        names = [s.spec.name for s in chain.layout]
        params[0, names.index("threshold_db")] = -20.0
        params[0, names.index("ratio")] = 8.0
        with torch.no_grad():
            out = chain(track, params, RATE, torch.tensor([True]))[0]
        before, after = slice(2000, 7000), slice(12000, 16000)
        drop = (_energy_db(out[1, after]) - _energy_db(quiet[after])
                - _energy_db(out[1, before]) + _energy_db(quiet[before]))
        assert drop < -6.0, spec  # the quiet side ducks when the loud side comes in


def test_a_console_batches_mono_and_stereo_songs_together(tiny_console):
    console = tiny_console(decisions=Decisions.generalising()).eval()
    torch.manual_seed(1)
    a = torch.randn(2, 3, 2, RATE) * 0.1
    a[0, 0, 1] = a[0, 0, 0]  # song 0: a mono track on both sides, two stereo ones
    a[1, :, 1] = a[1, :, 0]  # song 1: every track mono
    mask = torch.tensor([[True, True, True], [True, True, False]])
    with torch.no_grad():
        both = console(a, mask, RATE)
        first = console(a[:1], None, RATE)
        second = console(a[1:, :2, 0], None, RATE)  # the same mono song as (B, K, T)
    assert both.stereo.tolist() == [[False, True, True], [False, False, False]]
    torch.testing.assert_close(both.mix[0], first.mix[0], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(both.mix[1], second.mix[0], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(both.params[1, :2], second.params[0], atol=1e-5, rtol=1e-4)


def test_a_stereo_track_is_trimmed_by_the_loudness_of_both_channels(tiny_console):
    """A stereo recording of a sound and its mono recording get the same post-fader level."""
    console = tiny_console(decisions=Decisions.generalising()).eval()
    t = torch.arange(RATE) / RATE
    tone = 0.1 * torch.sin(2 * torch.pi * 440 * t)
    stereo = torch.stack([tone, 0.999 * tone]) / np.sqrt(2)  # the same power, split in two
    with torch.no_grad():
        _, trim_mono = console.listen(tone[None], RATE)
        _, trim_stereo = console.listen(stereo[None], RATE, stereo=torch.tensor([True]))
    assert abs(float(trim_mono[0] - trim_stereo[0])) < 0.1


def test_params_json_records_stereo_tracks_and_round_trips(folder, tiny_console):
    console = tiny_console(decisions=Decisions.generalising()).eval()
    stems = load_stems(folder)
    with torch.no_grad():
        result = console(stems.audio[None], None, stems.sample_rate, stereo=stems.stereo[None])
    params = result.mix_params(console, stems.names, stems.sample_rate)
    data = json.loads(params.to_json())
    by_name = {t["name"]: t for t in data["tracks"]}
    keys, bass = by_name["keys.wav"], by_name["bass.wav"]
    assert keys["channels"] == 2 and "balance" in keys["effects"]["pan"]
    assert "channels" not in bass and "pan" in bass["effects"]["pan"]
    assert MixParams.from_json(params.to_json()) == params
    rendered = console.render(stems.audio[None], MixParams.from_json(params.to_json()),
                              sample_rate=stems.sample_rate)
    torch.testing.assert_close(rendered, result.mix, atol=1e-5, rtol=1e-4)
    # a stereo track given a mono track's name for its setting is refused, by name
    by_name["keys.wav"]["effects"]["pan"] = {"pan": 0.0}
    with pytest.raises(MixParamsError, match="keys.wav.*balance"):
        MixParams.from_json(json.dumps(data)).to_tensor(console.layout)
    by_name["keys.wav"]["channels"] = 3
    with pytest.raises(MixParamsError, match="channels must be 1"):
        MixParams.from_json(json.dumps(data))


def test_an_edit_of_a_stereo_balance_moves_exactly_that_track(folder):
    stems = load_stems(folder)
    chain = EffectChain.from_spec("gain+pan")
    tracks = [{"name": n, "channels": c,
               "effects": {"gain": {"gain_db": -6.0},
                           "pan": {"balance" if c == 2 else "pan": 0.0}}}
              for n, c in zip(stems.names, stems.channels, strict=True)]
    params = MixParams.from_json(json.dumps({
        "spec": "gain+pan", "sample_rate": RATE, "format": "console-mix-params", "version": 2,
        "tracks": tracks}))
    before = Console.render(_Holder(chain), stems.audio[None], params, sample_rate=RATE)
    edited = params.with_value("keys.wav", "pan", "balance", 0.8)
    assert edited.tracks[1].channels == 2
    after = Console.render(_Holder(chain), stems.audio[None], edited, sample_rate=RATE)
    keys_only = torch.zeros_like(stems.audio)[None]
    keys_only[0, 1] = stems.audio[1]
    mask = torch.tensor([[False, True, False, False]])
    alone_before = Console.render(_Holder(chain), keys_only, params, mask, RATE)
    alone_after = Console.render(_Holder(chain), keys_only, edited, mask, RATE)
    torch.testing.assert_close(after - before, alone_after - alone_before, atol=1e-6, rtol=0)
    assert float((after - before).abs().max()) > 0.01


class _Holder:
    """Just enough of a console for :meth:`Console.render` (it uses only the chain)."""

    def __init__(self, chain):
        self.chain = chain


def test_mix_then_render_reproduces_a_mix_of_stereo_stems(folder, tmp_path, capsys):
    out = tmp_path / "mix.wav"
    assert main(["mix", str(folder), "-o", str(out), "--no-master"]) == 0
    captured = capsys.readouterr()
    assert "pad.wav: its channels are out of phase" in captured.err
    assert "twice.wav: its two channels are identical" in captured.err
    assert "keys.wav                 stereo" in captured.out
    params = MixParams.load(tmp_path / "mix.params.json")
    assert params.channels == [1, 2, 2, 1]
    assert main(["render", str(folder), str(tmp_path / "mix.params.json"), "-o",
                 str(tmp_path / "again.wav"), "-q"]) == 0
    mixed, _ = sf.read(out)
    again, _ = sf.read(tmp_path / "again.wav")
    np.testing.assert_allclose(again, mixed, atol=1e-6)
    # --mono keeps the old behaviour, and render then averages as the file says
    assert main(["mix", str(folder), "-o", str(tmp_path / "mono.wav"), "--mono", "-q"]) == 0
    assert MixParams.load(tmp_path / "mono.params.json").channels == [1, 1, 1, 1]
    capsys.readouterr()
    assert main(["render", str(folder), str(tmp_path / "mono.params.json"), "-o",
                 str(tmp_path / "mono-again.wav")]) == 0
    assert "keys.wav: 2 channels averaged to mono" in capsys.readouterr().err
    np.testing.assert_allclose(sf.read(tmp_path / "mono-again.wav")[0],
                               sf.read(tmp_path / "mono.wav")[0], atol=1e-6)


def test_render_refuses_a_stereo_setting_for_a_mono_file(folder, tmp_path, capsys):
    assert main(["mix", str(folder), "-o", str(tmp_path / "mix.wav"), "-q"]) == 0
    sf.write(folder / "keys.wav", np.zeros(RATE, np.float32), RATE)  # now mono
    assert main(["render", str(folder), str(tmp_path / "mix.params.json"), "-o",
                 str(tmp_path / "again.wav"), "-q"]) == 2
    assert "mixed keys.wav as a stereo track" in error_line(capsys)


def test_a_chain_that_takes_no_stereo_says_so_before_mixing(folder, tmp_path, capsys):
    from console import Effect, ParamSpec, hookimpl

    class MonoOnly(Effect):
        name = "mono-only"
        params = (ParamSpec("amount", "fraction", 0.0, 1.0, 0.5),)

        def output_channels(self, in_channels: int) -> int:
            if in_channels != 1:
                raise ValueError("mono input only")
            return 1

        def process(self, x, params, sample_rate):
            return x

    class Plugin:
        @hookimpl
        def register_effects(self, register):
            register(MonoOnly)

    with get_plugins().temporary(Plugin()):
        chain = EffectChain.from_spec("gain+mono-only+pan")
        assert "mono-only" in chain.stereo_problem()
        assert main(["mix", str(folder), "-o", str(tmp_path / "m.wav"), "--untrained",
                     "--spec", "gain+mono-only+pan", "-q"]) == 2
        assert "keys.wav is stereo" in error_line(capsys)
        assert main(["mix", str(folder), "-o", str(tmp_path / "m.wav"), "--untrained",
                     "--spec", "gain+mono-only+pan", "--mono", "-q"]) == 0


def test_the_export_plan_makes_a_stereo_stem_a_stereo_track_on_the_balance_panner():
    chain = EffectChain.from_spec("gain+pan")
    settings = torch.tensor([[-3.0, 0.0], [-3.0, 0.0]])
    mono, stereo = plan_tracks(chain, settings, ["a.wav", "b.wav"], RATE, [1, 2])
    assert mono.channels == 1 and mono.panner.uri.endswith("panner_1in2out")
    assert stereo.channels == 2 and stereo.panner.uri.endswith("panner_balance")
    assert stereo.panner.azimuth == pytest.approx(0.5)  # neutral: the image as recorded
    assert stereo.level.total_db == pytest.approx(-3.0, abs=1e-6)


def test_an_export_under_a_path_with_a_colon_is_refused(folder, tmp_path, capsys):
    """Ardour splits a session path at ':' (and litters the working directory)."""
    assert main(["mix", str(folder), "-o", str(tmp_path / "mix.wav"), "-q"]) == 0
    odd = tmp_path / "a:b"
    odd.mkdir()
    assert main(["export", str(folder), str(tmp_path / "mix.params.json"), "-o",
                 str(odd / "session"), "-q"]) == 2
    assert "reads ':' in a path" in error_line(capsys)
    assert not (odd / "session").exists()


def _soundfont_source():
    from console.data.fluid import fluidsynth_available
    from console.data.sources import installed_sources

    if not fluidsynth_available():
        return None
    return next((s for s in ("timgm6mb", "fluidr3") if s in installed_sources()), None)


needs_soundfont = pytest.mark.skipif(_soundfont_source() is None,
                                     reason="needs FluidSynth and a GM SoundFont")


@needs_soundfont
def test_a_session_with_stereo_stems_is_the_same_song_and_renders_from_its_params(tmp_path):
    from console.data.recorded import STEREO_ROLES, make_recorded_session

    source = _soundfont_source()
    for seed in range(8):  # a band song whose keys, pad or strings play in stereo
        wide = make_recorded_session(seed=seed, source=source, duration=2.0, sample_rate=RATE,
                                     kind="band", stereo=1.0)
        if 2 in wide.params.channels:
            break
    assert 2 in wide.params.channels
    mono = make_recorded_session(seed=seed, source=source, duration=2.0, sample_rate=RATE,
                                 kind="band")
    assert wide.names == mono.names and wide.roles == mono.roles
    channels = wide.params.channels
    assert all(c == 1 or r in STEREO_ROLES
                                 for c, r in zip(channels, wide.roles, strict=True))
    assert wide.stems.shape[:2] == (len(wide.names), 2)
    for k, (c, name) in enumerate(zip(channels, wide.names, strict=True)):
        if c == 1:  # a mono stem is the mono session's, on both sides
            torch.testing.assert_close(wide.stems[k, 0], mono.stems[k])
        else:  # a stereo one keeps its image; the engineer keeps it too
            assert not torch.equal(wide.stems[k, 0], wide.stems[k, 1])
            balance = next(t for t in wide.params.tracks if t.name == name).effects["pan"]
            assert abs(balance["balance"]) <= 0.15
    # written as such, and `console render` of the engineer's params gives the mix
    from console.data.folder import write_song_folder

    write_song_folder(tmp_path / "song", wide.names, wide.stems, wide.mix, wide.params, {},
                      RATE)
    for name, c in zip(wide.names, channels, strict=True):
        assert sf.info(str(tmp_path / "song" / "stems" / name)).channels == c
    assert main(["render", str(tmp_path / "song" / "stems"),
                 str(tmp_path / "song" / "params.json"), "-o", str(tmp_path / "r.wav"),
                 "-q"]) == 0
    rendered, _ = sf.read(tmp_path / "r.wav", always_2d=True)
    np.testing.assert_allclose(rendered.T, wide.mix.numpy(), atol=1e-5)


def test_make_sessions_refuses_a_stereo_share_out_of_range(tmp_path, capsys):
    assert main(["make-sessions", str(tmp_path / "d"), "--source", "procedural",
                 "--stereo", "1.5"]) == 2
    assert "--stereo must be a share from 0 to 1" in error_line(capsys)


def test_the_engineers_settings_of_a_stereo_track_are_read_under_their_stereo_name(tmp_path):
    from console.data.reference_decisions import reference_settings
    from console.data.song import Song

    (tmp_path / "stems").mkdir()
    params = MixParams.from_json(json.dumps({
        "spec": "gain+pan", "sample_rate": RATE, "format": "console-mix-params", "version": 2,
        "tracks": [{"name": "a.wav", "effects": {"gain": {"gain_db": -3.0},
                                                 "pan": {"pan": 0.4}}},
                   {"name": "b.wav", "channels": 2,
                    "effects": {"gain": {"gain_db": -5.0}, "pan": {"balance": -0.1}}}]}))
    params.save(tmp_path / "params.json")
    song = Song(name="s", mix=tmp_path / "mix.wav",
                stems=[tmp_path / "stems" / "a.wav", tmp_path / "stems" / "b.wav"],
                stem_names=["a.wav", "b.wav"], roles=["keys", "pad"])
    settings = reference_settings(song, EffectChain.from_spec("gain+pan").layout)
    assert settings.flatten().tolist() == pytest.approx([-3.0, 0.4, -5.0, -0.1])


def test_a_console_keeps_a_stereo_tracks_image(tiny_console, folder):
    """Its pans were learned on mono tracks: a stereo track's balance stays at 0, and the mono
    tracks are placed as they would be without it."""
    for decisions in (Decisions.generalising(), Decisions()):
        console = tiny_console(decisions=decisions).eval()
        stems = load_stems(folder)
        with torch.no_grad():
            result = console(stems.audio[None], None, stems.sample_rate,
                             stereo=stems.stereo[None])
        pans = result.params[0, :, 1]
        assert pans[stems.stereo].abs().max() == 0.0
        assert pans[~stems.stereo].abs().max() > 0.0  # an untrained console pans the others


def write_stereo_songs(root, n: int = 3, seconds: float = 2.0) -> None:
    """Songs in the folder layout with a stereo keys stem, mixed by the engineer."""
    from console.data.engineer import engineer_mix
    from console.data.folder import write_song_folder

    rng = np.random.default_rng(7)
    t = torch.arange(int(seconds * RATE)) / RATE
    for i in range(n):
        bass = 0.2 * torch.sin(2 * torch.pi * (55 + 5 * i) * t)
        keys = torch.stack([0.1 * torch.sin(2 * torch.pi * 330 * t),
                            0.05 * torch.sin(2 * torch.pi * 440 * t)])
        snare = torch.from_numpy(rng.standard_normal(t.shape[0]).astype(np.float32)) * 0.05
        stems = torch.stack([bass.expand(2, -1), keys, snare.expand(2, -1)])
        names, roles = ["bass.wav", "keys.wav", "snare.wav"], ["bass", "keys", "snare"]
        mix, params = engineer_mix(stems, names, roles, RATE, spec="gain+pan", seed=i,
                                   stereo=[False, True, False])
        write_song_folder(root / f"song_{i:04d}", names, stems, mix, params,
                          {"tracks": [{"name": n, "role": r} for n, r in zip(names, roles,
                                                                             strict=True)]},
                          RATE)


def test_a_dataset_reads_stereo_stems_as_stereo_tracks_and_batches_them(tmp_path):
    from console.data import scan_folder
    from console.data.collate import collate_examples
    from console.data.dataset import MultitrackDataset

    write_stereo_songs(tmp_path / "songs")
    songs = scan_folder(tmp_path / "songs")
    layout = EffectChain.from_spec("gain+pan").layout
    wide = MultitrackDataset(songs, sample_rate=RATE, segment_seconds=1.0, stereo=True,
                             targets=layout)
    example = wide[0]
    assert example.stems.shape[:2] == (3, 2) and example.stereo == (False, True, False)
    assert torch.equal(example.stems[0, 0], example.stems[0, 1])  # mono bass on both sides
    assert not torch.equal(example.stems[1, 0], example.stems[1, 1])
    assert abs(float(example.targets[1, 1])) <= 0.15  # the engineer's balance of the keys
    mono = MultitrackDataset(songs, sample_rate=RATE, segment_seconds=1.0)[0]
    assert mono.stems.dim() == 2 and mono.stereo is None
    torch.testing.assert_close(mono.stems[1], example.stems[1].mean(0))
    batch = collate_examples([example, mono])
    assert batch.stems.shape[:3] == (2, 3, 2)
    assert batch.stereo.tolist() == [[False, True, False], [False, False, False]]
    torch.testing.assert_close(batch.stems[1, 1, 0], batch.stems[1, 1, 1])


@pytest.mark.slow
def test_console_train_stereo_trains_on_stereo_tracks(tmp_path, capsys):
    write_stereo_songs(tmp_path / "songs", n=4)
    run = tmp_path / "run"
    args = ["train", "--spec", "gain+pan", "--data", str(tmp_path / "songs"), "--out",
            str(run), "--sample-rate", str(RATE), "--segment-seconds", "1", "--batch-size",
            "2", "--hidden", "16", "--steps", "2", "--val-every", "2", "--checkpoint-every",
            "2", "--warmup-steps", "0", "--no-progress", "--stereo"]
    assert main(args) == 0
    console = Console.load(run / "console.pt")
    stems = load_stems(tmp_path / "songs" / "song_0000" / "stems")
    with torch.no_grad():
        result = console(stems.audio[None], None, stems.sample_rate, stereo=stems.stereo[None])
    assert bool(torch.isfinite(result.mix).all())
    assert main(["train", "--mixer", "wave-u-net", "--data", str(tmp_path / "songs"),
                 "--out", str(tmp_path / "w"), "--stereo"]) == 2
    assert "--stereo trains a console" in error_line(capsys)


def test_every_effect_says_what_its_settings_mean_on_a_stereo_track(capsys):
    """``stereo_params`` give one spec per parameter (pan's is ``balance``), and ``console
    plugins`` lists them."""
    plugins = get_plugins()
    for name, component in plugins.registry("effect").items():
        stereo = getattr(component.factory, "stereo_params", None)
        if stereo is not None:
            params = component.factory.params
            assert len(stereo) == len(params), name
            assert all((s.minimum, s.maximum) == (p.minimum, p.maximum)
                       for s, p in zip(stereo, params, strict=True)), name
    assert main(["plugins", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    pan = next(e for e in listing["effect"] if e["name"] == "pan")
    assert [(p["name"], p["for"]) for p in pan["stereo_params"]] == [("balance", "pan")]


def test_stems_of_another_shape_or_a_stereo_mask_without_stereo_audio_are_refused(tiny_console):
    console = tiny_console().eval()
    with pytest.raises(AudioInputError, match=r"or \(batch, tracks, 2, samples\)"):
        console(torch.zeros(1, 2, 3, RATE), None, RATE)
    with pytest.raises(AudioInputError, match=r"or \(batch, tracks, 2, samples\)"):
        console(torch.zeros(1, 2, 1, RATE), None, RATE)
    with pytest.raises(AudioInputError, match="the stems are mono"):
        console(torch.randn(1, 2, RATE), None, RATE, stereo=torch.tensor([[True, False]]))
    with pytest.raises(AudioInputError, match="takes mono stems"):
        from console.mixer import create_mixer

        create_mixer("mono")(torch.zeros(1, 2, 2, RATE), None, RATE)


def test_training_still_hears_a_file_of_more_channels_averaged(tmp_path):
    """Datasets average such files (with or without --stereo); their whole-track trims too."""
    from console.streaming import track_trim_db

    audio = 0.1 * np.random.default_rng(1).standard_normal((RATE, 6)).astype(np.float32)
    sf.write(tmp_path / "six.wav", audio, RATE, subtype="FLOAT")
    trim = track_trim_db(tmp_path / "six.wav", RATE, mono=True)
    sf.write(tmp_path / "mean.wav", audio.mean(1), RATE, subtype="FLOAT")
    assert trim == pytest.approx(track_trim_db(tmp_path / "mean.wav", RATE), abs=1e-3)
    assert track_trim_db(tmp_path / "six.wav", RATE) == pytest.approx(trim, abs=1e-6)


def test_normalising_stereo_and_mono_tracks_measures_each_as_it_is():
    from console.data.loudness import loudness_lufs, normalise_tracks

    t = torch.arange(RATE) / RATE
    tone = 0.05 * torch.sin(2 * torch.pi * 440 * t)
    tracks = torch.stack([tone.expand(2, -1), torch.stack([tone, 0.5 * tone])])
    out = normalise_tracks(tracks, RATE, -20.0)  # stereo found by their channels
    assert torch.equal(out[0, 0], out[0, 1])
    assert loudness_lufs(out[0, :1], RATE) == pytest.approx(-20.0, abs=0.05)
    assert loudness_lufs(out[1], RATE) == pytest.approx(-20.0, abs=0.05)
    torch.testing.assert_close(normalise_tracks(tracks, RATE, -20.0, [False, True]), out)
