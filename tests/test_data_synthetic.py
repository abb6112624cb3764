"""Synthetic sessions: procedural and sampled sources, the engineer, and `console make-sessions`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from console.chain import EffectChain
from console.cli.main import main
from console.console import render
from console.data import MultitrackDataset, scan_folder
from console.data import samples as samples_module
from console.data.engineer import STYLES, default_spec, engineer_mix
from console.data.loudness import loudness_lufs
from console.data.synthetic import make_session, write_session
from console.effect import Effect
from console.hookspecs import hookimpl
from console.mix_params import MixParams
from console.params import ParamSpec
from console.plugins import get_plugins

SR = 8000


@pytest.fixture
def no_samples(monkeypatch):
    """A machine without sonic-pi-samples."""
    monkeypatch.delenv(samples_module.SAMPLES_ENV, raising=False)
    monkeypatch.setattr(samples_module, "DEFAULT_DIRS", ())


def test_procedural_fallback_when_no_samples_are_installed(no_samples):
    assert samples_module.samples_dir() is None
    session = make_session(seed=1, duration=2.0, sample_rate=SR, source="auto")
    assert set(session.sources) == {"synth"}
    assert {"kick", "snare", "hihat", "bass", "lead"} <= set(session.roles)
    assert session.stems.shape == (len(session.roles), 2 * SR)
    assert session.mix.shape == (2, 2 * SR)
    assert torch.isfinite(session.mix).all() and float(session.mix.abs().max()) > 0.01
    peaks_db = 20 * torch.log10(session.stems.abs().amax(dim=1))
    assert torch.allclose(peaks_db, torch.tensor(session.input_peak_db), atol=0.01)
    with pytest.raises(FileNotFoundError, match="sonic-pi-samples"):
        make_session(seed=1, duration=1.0, sample_rate=SR, source="samples")


def test_sessions_are_reproducible_and_vary_with_the_seed():
    a = make_session(seed=5, duration=1.5, sample_rate=SR, source="synth")
    b = make_session(seed=5, duration=1.5, sample_rate=SR, source="synth")
    c = make_session(seed=6, duration=1.5, sample_rate=SR, source="synth")
    assert torch.equal(a.stems, b.stems) and torch.equal(a.mix, b.mix)
    assert a.stems.shape != c.stems.shape or not torch.equal(a.stems, c.stems)


def test_recorded_samples_are_played_and_transposed(tmp_path, monkeypatch):
    # A tiny sample folder in the sonic-pi naming: a kick hit and a bass note at C2.
    rate = 16000
    t = np.arange(rate // 2) / rate
    sf.write(tmp_path / "drum_heavy_kick.flac", np.sin(2 * np.pi * 60 * t) * np.exp(-t / 0.1), rate)
    sf.write(tmp_path / "bass_woodsy_c.flac", 0.5 * np.sin(2 * np.pi * 65.41 * t), rate)
    monkeypatch.setenv(samples_module.SAMPLES_ENV, str(tmp_path))
    monkeypatch.setattr(samples_module, "DEFAULT_DIRS", ())
    session = make_session(seed=2, duration=2.0, sample_rate=SR, source="auto")
    sources = dict(zip(session.roles, session.sources, strict=True))
    assert sources["kick"] == "sample:drum_heavy_kick"
    assert sources["bass"] == "sample:bass_woodsy_c"
    assert sources["lead"] == "synth"  # no lead sample there: synthesised
    voice = samples_module.SampledVoice(tmp_path / "bass_woodsy_c.flac", 36.0)
    octave_up = voice(48.0, 0.4, 1.0, SR, np.random.default_rng(0))
    spectrum = np.abs(np.fft.rfft(octave_up[: SR // 4], n=SR))
    assert abs(int(np.argmax(spectrum)) - 131) <= 2  # C3 is 130.8 Hz


def test_real_sonic_pi_samples_when_installed():
    folder = samples_module.samples_dir()
    if folder is None:
        pytest.skip("sonic-pi-samples is not installed")
    session = make_session(seed=0, duration=2.0, sample_rate=SR, source="samples")
    assert all(s.startswith("sample:") for s in session.sources)
    assert torch.isfinite(session.mix).all()


def test_the_engineer_levels_tracks_by_role_whatever_their_input_level():
    session = make_session(seed=3, duration=3.0, sample_rate=SR, source="synth", spec="gain+pan")
    chain = EffectChain.from_spec("gain+pan")
    settings = chain.to_tensor(session.params)
    for k, role in enumerate(session.roles):
        gained = session.stems[k] * 10 ** (settings[k, 0] / 20)
        assert loudness_lufs(gained[None], SR) == pytest.approx(
            STYLES[role].loudness_lufs, abs=1.6
        )
    pans = dict(zip(session.roles, settings[:, 1].tolist(), strict=True))
    assert pans["kick"] == pytest.approx(0.0) and pans["bass"] == pytest.approx(0.0)
    assert pans["hihat"] > 0.1


def test_written_session_rerenders_from_its_params_json(tmp_path, no_samples):
    out = tmp_path / "session"
    write_session(out, seed=4, duration=1.5, sample_rate=SR)
    info = json.loads((out / "session.json").read_text())
    params = MixParams.load(out / "params.json")
    assert params.spec == EffectChain.from_spec(default_spec()).spec
    assert [t["name"] for t in info["tracks"]] == params.track_names
    stems = torch.stack([
        torch.from_numpy(sf.read(out / "stems" / name, dtype="float32")[0])
        for name in params.track_names
    ])
    chain = EffectChain.from_spec(params.spec)
    with torch.no_grad():
        again = render(chain, stems[None], chain.to_tensor(params)[None], sample_rate=SR)[0]
    mix, rate = sf.read(out / "mix.wav", dtype="float32", always_2d=True)
    assert rate == SR
    assert torch.allclose(again, torch.from_numpy(mix.T), atol=1e-5)


class Mystery(Effect):
    """A test EQ whose parameters the engineer partly knows."""

    name = "eq:mystery"
    params = (
        ParamSpec("low_gain_db", "dB", -12.0, 12.0, 0.0),
        ParamSpec("sparkle_amount", "", 0.0, 1.0, 0.25),
    )

    def process(self, x, params, sample_rate):
        return x * torch.pow(10.0, self.unpack(params)["low_gain_db"] / 20.0)


class MysteryPlugin:
    @hookimpl
    def register_effects(self, register):
        register(Mystery)


def test_unknown_parameters_stay_at_their_defaults():
    plugins = get_plugins()
    stems = 0.1 * torch.randn(2, SR)
    with plugins.temporary(MysteryPlugin()):
        _, params = engineer_mix(stems, ["kick.wav", "bass.wav"], ["kick", "bass"], SR,
                                 spec="gain+eq:mystery+pan", plugins=plugins)
    kick, bass = params.tracks
    assert kick.effects["eq"] == {"low_gain_db": STYLES["kick"].low_db, "sparkle_amount": 0.25}
    assert bass.effects["eq"]["low_gain_db"] == STYLES["bass"].low_db


def test_make_sessions_command_writes_a_loadable_dataset(tmp_path, no_samples):
    out = tmp_path / "sessions"
    code = main(["make-sessions", str(out), "--n", "2", "--seed", "3", "--duration", "1.5",
                 "--sample-rate", str(SR), "--source", "synth"])
    assert code == 0
    songs = scan_folder(out)
    assert [s.name for s in songs] == ["song_0000", "song_0001"]
    assert {"kick", "snare", "hihat", "bass", "lead"} <= set(songs[0].roles)
    for song in songs:
        assert (out / song.name / "params.json").is_file()
        assert json.loads((out / song.name / "session.json").read_text())["seed"] in (3, 4)
    example = MultitrackDataset(songs, sample_rate=SR, segment_seconds=0.5)[0]
    assert example.mix.shape == (2, SR // 2)


def test_make_sessions_refuses_samples_on_a_machine_without_them(tmp_path, no_samples, capsys):
    code = main(["make-sessions", str(tmp_path / "x"), "--n", "1", "--duration", "1",
                 "--source", "samples"])
    assert code == 2
    assert "sonic-pi-samples" in capsys.readouterr().err
    assert not Path(tmp_path / "x" / "song_0000" / "mix.wav").exists()
