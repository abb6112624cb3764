"""Sessions from recorded sources: variety, input levels, engineer styles, `make-sessions`."""

import json

import numpy as np
import pytest
import soundfile as sf
import torch

from console.chain import EffectChain
from console.cli.main import main
from console.data.band import make_multitrack
from console.data.engineer import EngineerStyle, choose_settings
from console.data.fluid import fluidsynth_available
from console.data.loudness import loudness_batch
from console.data.recorded import make_recorded_session, pan_hints
from console.data.sources import SOURCES, get_source, installed_sources
from console.mix_params import MixParams

SR = 16000


def test_procedural_sessions_are_reproducible_and_vary_with_the_seed():
    a = make_recorded_session(seed=4, source="procedural", duration=2.0, sample_rate=SR)
    b = make_recorded_session(seed=4, source="procedural", duration=2.0, sample_rate=SR)
    c = make_recorded_session(seed=5, source="procedural", duration=2.0, sample_rate=SR)
    assert torch.equal(a.stems, b.stems) and a.names == b.names
    assert a.names != c.names or not torch.equal(a.stems, c.stems)


def test_sessions_span_band_and_drum_kinds_and_2_to_24_stems():
    counts, kinds = [], set()
    for seed in range(40):
        mt = make_multitrack(np.random.default_rng(seed), 4.0)
        counts.append(len(mt.parts))
        kinds.add(mt.kind)
        names = [p.name for p in mt.parts]
        assert len(set(names)) == len(names)
    drums = make_multitrack(np.random.default_rng(0), 4.0, kind="drums")
    assert {p.role for p in drums.parts} >= {"kick", "snare", "hihat"}
    assert all(p.drums for p in drums.parts)
    assert min(counts) >= 2 and max(counts) <= 24 and max(counts) >= 12
    assert len(set(counts)) >= 6


def test_every_stem_arrives_within_20_db_of_the_engineers_wish_and_is_corrected():
    from console.data.engineer import STYLES

    session = make_recorded_session(seed=1, source="procedural", duration=3.0, sample_rate=SR,
                                    spec="gain+pan")
    measured = loudness_batch(session.stems, SR)
    np.testing.assert_allclose(measured.numpy(), session.input_lufs, atol=0.05)
    wish = torch.tensor([STYLES[r].loudness_lufs + session.style.level_offset(r)
                         for r in session.roles])
    assert float((measured - wish).abs().max()) <= 20.0 + 1e-3
    gains = session.params.to_tensor(EffectChain.from_spec("gain+pan").layout)[:, 0]
    # the engineer's fader lands each stem on its wish, give or take 1.5 dB of taste
    assert float((measured + gains - wish).abs().max()) <= 1.5 + 0.05


def test_the_reference_renders_again_from_its_params(tmp_path):
    from console.data.recorded import write_recorded_session

    out = tmp_path / "song"
    session = write_recorded_session(out, seed=2, source="procedural", duration=2.0,
                                     sample_rate=SR)
    params = MixParams.load(out / "params.json")
    assert params.master is not None and not params.master.enabled
    assert main(["render", str(out / "stems"), str(out / "params.json"), "-o",
                 str(tmp_path / "again.wav"), "-q"]) == 0
    again, _ = sf.read(tmp_path / "again.wav")
    np.testing.assert_allclose(again.T, session.mix.numpy(), atol=1e-4)
    info = json.loads((out / "session.json").read_text())
    assert info["source"] == "procedural" and info["family"] == "procedural"
    assert len(info["tracks"]) == len(session.names)


def test_a_mirrored_engineer_pans_the_other_way():
    stems = torch.randn(3, SR) * 0.1
    chain = EffectChain.from_spec("gain+pan")
    roles = ["hihat", "keys", "guitar"]
    plain = choose_settings(chain, stems, roles, SR, np.random.default_rng(0))
    mirrored = choose_settings(chain, stems, roles, SR, np.random.default_rng(0),
                               EngineerStyle(mirror=True))
    torch.testing.assert_close(mirrored[:, 1], -plain[:, 1])
    torch.testing.assert_close(mirrored[:, 0], plain[:, 0])
    lcr = choose_settings(chain, stems, roles, SR, np.random.default_rng(0),
                          EngineerStyle(lcr=True))
    assert set(lcr[:, 1].abs().tolist()) <= {0.0, 1.0}


def test_toms_spread_across_the_kit_and_a_guitar_pair_goes_wide():
    mt = make_multitrack(np.random.default_rng(3), 4.0, kind="drums")
    hints = pan_hints(mt.parts)
    toms = [h for p, h in zip(mt.parts, hints, strict=True) if p.role == "tom"]
    assert toms == sorted(toms, reverse=True)


def test_hydrogen_drumkits_are_never_a_source():
    for source in SOURCES.values():
        assert "hydrogen" not in source.name and "hydrogen" not in source.description.lower()
        assert all("hydrogen" not in str(p).lower() for p in source.files)


def test_make_sessions_writes_recorded_sessions_and_refuses_unknown_sources(tmp_path, capsys):
    out = tmp_path / "data"
    assert main(["make-sessions", str(out), "--n", "2", "--duration", "1.5", "--sample-rate",
                 str(SR), "--source", "procedural", "--kind", "drums", "--max-stems", "5"]) == 0
    for song in ("song_0000", "song_0001"):
        info = json.loads((out / song / "session.json").read_text())
        assert info["kind"] == "drums" and 2 <= len(info["tracks"]) <= 5
    assert main(["make-sessions", str(tmp_path / "x"), "--source", "hydrogen"]) == 2
    assert "Unknown source" in capsys.readouterr().err


@pytest.mark.skipif(not fluidsynth_available() or not installed_sources()[0:1]
                    or "timgm6mb" not in installed_sources() and "fluidr3" not in
                    installed_sources(), reason="needs FluidSynth and a GM SoundFont")
@pytest.mark.slow
def test_a_soundfont_plays_a_drum_kit_and_a_band():
    name = "timgm6mb" if "timgm6mb" in installed_sources() else "fluidr3"
    drums = make_recorded_session(seed=0, source=name, duration=2.0, sample_rate=SR,
                                  kind="drums")
    band = make_recorded_session(seed=1, source=name, duration=2.0, sample_rate=SR,
                                 kind="band")
    for session in (drums, band):
        assert session.stems.shape[0] >= 2
        assert bool(torch.isfinite(session.stems).all())
        assert session.instruments["soundfont"] == get_source(name).path().name or name
    assert any(p is not None for p in band.programs)
    kick = drums.stems[drums.names.index("kick.wav")].numpy()
    hat = drums.stems[drums.names.index("hihat.wav")].numpy()

    def centroid(x):
        spectrum = np.abs(np.fft.rfft(x))
        return (spectrum * np.fft.rfftfreq(len(x), 1 / SR)).sum() / spectrum.sum()

    assert centroid(kick) < centroid(hat)


def test_an_unplayable_draw_skips_its_seed_and_keeps_the_others(tmp_path, monkeypatch, capsys):
    import console.data.recorded as recorded
    from console.cli.main import main

    original = recorded.write_recorded_session

    def flaky(folder, **options):
        if options["seed"] == 11:
            raise recorded.UnplayableSession("The source played fewer than two audible parts.")
        return original(folder, **options)

    monkeypatch.setattr(recorded, "write_recorded_session", flaky)
    out = tmp_path / "songs"
    assert main(["make-sessions", str(out), "--source", "procedural", "--n", "3", "--seed",
                 "10", "--duration", "1", "--sample-rate", "8000"]) == 0
    err = capsys.readouterr()
    assert "seed 11 skipped" in err.err and "wrote 2 sessions" in err.out
    assert sorted(p.name for p in out.iterdir() if p.name.startswith("song_")) == [
        "song_0000", "song_0001"]
