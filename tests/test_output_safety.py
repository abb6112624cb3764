"""`console mix` and `render` never destroy an input, never clip, and check paths first."""

import json
import os

import numpy as np
import pytest
import soundfile as sf
import torch

from console.cli.main import main
from console.master import MasterSettings, master, peak_dbfs
from console.streaming import DecidedMix
from tests.conftest import write_stems


def snapshot(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.mark.parametrize("command", ["mix", "render"])
def test_output_onto_a_stem_is_refused_and_the_stem_survives(
    tmp_path, stems_dir, checkpoint, command, capsys
):
    params = tmp_path / "p.json"
    assert main(["mix", str(stems_dir), "-o", str(tmp_path / "m.wav"), "--params", str(params),
                 "--checkpoint", checkpoint]) == 0
    before = snapshot(stems_dir)
    target = stems_dir / "stem00.wav"
    argv = (["mix", str(stems_dir), "--checkpoint", checkpoint] if command == "mix"
            else ["render", str(stems_dir), str(params)])
    assert main([*argv, "-o", str(target)]) == 2
    assert "one of the inputs" in capsys.readouterr().err
    assert snapshot(stems_dir) == before


def test_a_new_mix_inside_the_stems_folder_is_refused(tmp_path, stems_dir, checkpoint, capsys):
    before = snapshot(stems_dir)
    assert main(["mix", str(stems_dir), "-o", str(stems_dir / "mix.wav"),
                 "--checkpoint", checkpoint]) == 2
    assert "stems folder" in capsys.readouterr().err
    assert snapshot(stems_dir) == before


def test_params_onto_a_stem_is_refused(tmp_path, stems_dir, checkpoint):
    before = snapshot(stems_dir)
    assert main(["mix", str(stems_dir), "-o", str(tmp_path / "m.wav"), "--params",
                 str(stems_dir / "stem01.wav"), "--checkpoint", checkpoint]) == 2
    assert snapshot(stems_dir) == before


def test_two_mixes_in_one_folder_keep_their_own_params(tmp_path, checkpoint):
    a, b = tmp_path / "A", tmp_path / "B"
    write_stems(a, 2, seed=1)
    write_stems(b, 3, seed=2)
    out = tmp_path / "out"
    assert main(["mix", str(a), "-o", str(out / "songA.wav"), "--checkpoint", checkpoint]) == 0
    assert main(["mix", str(b), "-o", str(out / "songB.wav"), "--checkpoint", checkpoint]) == 0
    params_a = json.loads((out / "songA.params.json").read_text())
    params_b = json.loads((out / "songB.params.json").read_text())
    assert len(params_a["tracks"]) == 2 and len(params_b["tracks"]) == 3
    assert not (out / "params.json").exists()


@pytest.mark.parametrize(
    "make_target, message",
    [
        (lambda tmp: (tmp / "adir").mkdir() or tmp / "adir", "is a folder"),
        (lambda tmp: (tmp / "x.wav").mkdir() or tmp / "x.wav", "is a folder"),
        (lambda tmp: (tmp / "afile").write_text("x") and tmp / "afile" / "mix.wav", "is a file"),
        (lambda tmp: __import__("pathlib").Path("/proc/mix.wav"), "not writable"),
    ],
)
def test_bad_output_paths_fail_before_any_audio_is_read(
    tmp_path, checkpoint, make_target, message, capsys, monkeypatch
):
    folder = tmp_path / "stems"
    write_stems(folder, 2)
    read = []
    import console.cli.mix as mix_cli

    monkeypatch.setattr(mix_cli, "probe", lambda p: read.append(p))
    target = make_target(tmp_path)
    assert main(["mix", str(folder), "-o", str(target), "--checkpoint", checkpoint]) == 2
    assert message in capsys.readouterr().err
    assert read == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_unwritable_folder_is_refused(tmp_path, stems_dir, checkpoint, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        assert main(["mix", str(stems_dir), "-o", str(locked / "m.wav"),
                     "--checkpoint", checkpoint]) == 2
    finally:
        locked.chmod(0o700)
    assert "not writable" in capsys.readouterr().err


@pytest.mark.parametrize("rate", ["0", "-44100", "1"])
def test_bad_sample_rates_are_refused(tmp_path, stems_dir, checkpoint, rate, capsys):
    out = tmp_path / "m.wav"
    assert main(["mix", str(stems_dir), "-o", str(out), "--sample-rate", rate,
                 "--checkpoint", checkpoint]) == 2
    assert "--sample-rate" in capsys.readouterr().err
    assert not out.exists()


def test_unknown_spec_fails_before_any_stem_is_probed(tmp_path, stems_dir, capsys, monkeypatch):
    import console.cli.mix as mix_cli

    read = []
    monkeypatch.setattr(mix_cli, "probe", lambda p: read.append(p))
    assert main(["mix", str(stems_dir), "-o", str(tmp_path / "m.wav"), "--spec", "gain+foo",
                 "--untrained"]) == 2
    assert "foo" in capsys.readouterr().err
    assert read == []


def hot_stems(folder, sample_rate=16000):
    """Two loud stems whose sum peaks far above full scale."""
    folder.mkdir(parents=True)
    t = np.arange(sample_rate) / sample_rate
    sf.write(folder / "a.wav", (0.99 * np.sin(2 * np.pi * 220 * t)).astype(np.float32),
             sample_rate, subtype="FLOAT")
    sf.write(folder / "b.wav", (9.9 * np.sin(2 * np.pi * 220 * t)).astype(np.float32),
             sample_rate, subtype="FLOAT")  # 20 dB too hot
    return folder


@pytest.mark.parametrize("name, depth", [("m.wav", None), ("m.flac", None), ("m16.wav", "16"),
                                         ("m.aiff", "24")])
def test_a_stem_20_db_too_hot_never_clips(tmp_path, checkpoint, name, depth, capsys):
    folder = hot_stems(tmp_path / "hot")
    out = tmp_path / name
    argv = ["mix", str(folder), "-o", str(out), "--checkpoint", checkpoint]
    assert main(argv + (["--bit-depth", depth] if depth else [])) == 0
    audio, _ = sf.read(out, always_2d=True)
    assert np.abs(audio).max() <= 10 ** (-1 / 20) + 1e-4  # the default -1 dBFS ceiling
    assert "dBFS" in capsys.readouterr().out
    params = json.loads(out.with_name(f"{out.stem}.params.json").read_text())
    assert params["master"] == {"loudness_lufs": -14.0, "ceiling_dbfs": -1.0}


def test_without_master_an_integer_file_is_refused_not_clipped(tmp_path, checkpoint, capsys):
    folder = hot_stems(tmp_path / "hot")
    out = tmp_path / "m.flac"
    assert main(["mix", str(folder), "-o", str(out), "--no-master",
                 "--checkpoint", checkpoint]) == 2
    assert "would clip" in capsys.readouterr().err
    assert not out.exists()
    wav = tmp_path / "m.wav"  # float WAV keeps the overs
    assert main(["mix", str(folder), "-o", str(wav), "--no-master",
                 "--checkpoint", checkpoint]) == 0
    assert np.abs(sf.read(wav)[0]).max() > 1.0
    assert "players will clip it" in capsys.readouterr().err


def test_render_applies_the_saved_master_and_options_override_it(tmp_path, checkpoint):
    folder = hot_stems(tmp_path / "hot")
    out = tmp_path / "m.wav"
    assert main(["mix", str(folder), "-o", str(out), "--ceiling", "-6",
                 "--checkpoint", checkpoint]) == 0
    again = tmp_path / "again.wav"
    assert main(["render", str(folder), str(tmp_path / "m.params.json"), "-o", str(again)]) == 0
    np.testing.assert_allclose(sf.read(again)[0], sf.read(out)[0], atol=1e-5)
    assert np.abs(sf.read(again)[0]).max() <= 10 ** (-6 / 20) + 1e-5
    raw = tmp_path / "raw.wav"
    assert main(["render", str(folder), str(tmp_path / "m.params.json"), "-o", str(raw),
                 "--no-master"]) == 0
    assert np.abs(sf.read(raw)[0]).max() > 1.0


def test_master_reaches_the_loudness_target_when_the_peak_allows():
    t = torch.arange(44100) / 44100
    quiet = 0.01 * torch.sin(2 * torch.pi * 440 * t).expand(2, -1)
    out, report = master(quiet, 44100, MasterSettings(loudness_lufs=-20.0, ceiling_dbfs=-1.0))
    assert abs(report.output_lufs - -20.0) < 1e-6 and not report.ceiling_limited
    from console.data.loudness import loudness_lufs

    assert abs(loudness_lufs(out, 44100) - -20.0) < 0.05


def test_master_ceiling_wins_over_loudness_and_says_so():
    spiky = torch.zeros(2, 44100)
    spiky[:, ::4410] = 0.5  # clicks: loud peaks, little loudness
    out, report = master(spiky, 44100, MasterSettings(loudness_lufs=-6.0, ceiling_dbfs=-3.0))
    assert report.ceiling_limited
    assert abs(peak_dbfs(out) - -3.0) < 1e-3
    assert "ceiling" in report.describe()


def test_master_off_changes_nothing_and_silence_stays_silent():
    audio = torch.randn(2, 8000)
    out, _ = master(audio, 16000, MasterSettings.off())
    assert torch.equal(out, audio)
    out, report = master(torch.zeros(2, 8000), 16000)
    assert torch.equal(out, torch.zeros(2, 8000)) and "silence" in report.describe()


@pytest.mark.parametrize("bad", [float("nan"), 5.0, "x"])
def test_master_settings_refuse_nonsense(bad):
    with pytest.raises(ValueError, match="ceiling_dbfs"):
        MasterSettings(ceiling_dbfs=bad)


def test_silent_and_short_stems_are_named(tmp_path, checkpoint, capsys):
    folder = tmp_path / "stems"
    write_stems(folder, 2)
    sf.write(folder / "quiet.wav", np.zeros(16000, dtype=np.float32), 16000)
    sf.write(folder / "short.wav", np.full(8000, 0.1, dtype=np.float32), 16000)
    assert main(["mix", str(folder), "-o", str(tmp_path / "m.wav"),
                 "--checkpoint", checkpoint]) == 0
    err = capsys.readouterr().err
    assert "quiet.wav is silent" in err
    assert "short.wav: 0.50 s" in err and "padded" in err


def test_every_stem_silent_is_reported(tmp_path, checkpoint, capsys):
    folder = tmp_path / "stems"
    folder.mkdir()
    for name in ("a.wav", "b.wav"):
        sf.write(folder / name, np.zeros(16000, dtype=np.float32), 16000)
    assert main(["mix", str(folder), "-o", str(tmp_path / "m.wav"),
                 "--checkpoint", checkpoint]) == 0
    assert "every stem is silent" in capsys.readouterr().err


def test_nan_decisions_write_nothing(tmp_path, stems_dir, tiny_console, capsys, monkeypatch):
    import console.cli.mix as mix_cli

    console = tiny_console()

    def broken(paths, *args, **kwargs):
        return DecidedMix(torch.full((len(paths), 2), float("nan")), [1] * len(paths))

    monkeypatch.setattr(mix_cli, "decide_settings", lambda c, paths, *a, **k: broken(paths))
    path = tmp_path / "c.pt"
    console.save(path)
    out = tmp_path / "m.wav"
    assert main(["mix", str(stems_dir), "-o", str(out), "--checkpoint", str(path)]) == 2
    assert "non-finite" in capsys.readouterr().err
    assert not out.exists() and not (tmp_path / "m.params.json").exists()


def test_render_reports_each_track_as_it_goes(tmp_path, stems_dir, checkpoint, capsys):
    params = tmp_path / "p.json"
    assert main(["mix", str(stems_dir), "-o", str(tmp_path / "m.wav"), "--params", str(params),
                 "--checkpoint", checkpoint, "-q"]) == 0
    capsys.readouterr()
    assert main(["render", str(stems_dir), str(params), "-o", str(tmp_path / "r.wav")]) == 0
    err = capsys.readouterr().err
    assert [line for line in err.splitlines() if "mixing stem" in line] == [
        f"console render: mixing stem0{k}.wav ({k + 1}/3)" for k in range(3)
    ]
