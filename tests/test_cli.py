"""The command line: mix, render, plugins, and errors that write nothing."""

import json

import numpy as np
import pytest
import soundfile as sf

from console.cli.main import main
from tests.conftest import write_stems


def files_in(path):
    return sorted(p.name for p in path.rglob("*") if p.is_file())


def test_mix_writes_a_stereo_mix_and_params(tmp_path, stems_dir, checkpoint, capsys):
    out = tmp_path / "out" / "mix.wav"
    assert main(["mix", str(stems_dir), "-o", str(out), "--checkpoint", checkpoint]) == 0
    audio, sr = sf.read(out)
    assert sr == 16000 and audio.shape == (16000, 2)
    params = json.loads((out.parent / "mix.params.json").read_text())
    assert [t["name"] for t in params["tracks"]] == ["stem00.wav", "stem01.wav", "stem02.wav"]
    assert set(params["tracks"][0]["effects"]) == {"gain", "pan"}
    assert "stem01.wav" in capsys.readouterr().out
    assert files_in(out.parent) == [".console-manifest.json", "mix.params.json", "mix.wav"]


def test_render_reproduces_the_mix_and_an_edit_changes_it(tmp_path, stems_dir, checkpoint):
    out = tmp_path / "mix.wav"
    params_path = tmp_path / "p.json"
    main(["mix", str(stems_dir), "-o", str(out), "--params", str(params_path),
          "--checkpoint", checkpoint])
    again = tmp_path / "again.wav"
    assert main(["render", str(stems_dir), str(params_path), "-o", str(again)]) == 0
    np.testing.assert_allclose(sf.read(again)[0], sf.read(out)[0], atol=1e-5)

    data = json.loads(params_path.read_text())
    data["tracks"][0]["effects"]["pan"]["pan"] = -1.0
    data["tracks"][0]["effects"]["gain"]["gain_db"] = 6.0
    params_path.write_text(json.dumps(data))
    edited = tmp_path / "edited.wav"
    assert main(["render", str(stems_dir), str(params_path), "-o", str(edited)]) == 0
    assert not np.allclose(sf.read(edited)[0], sf.read(out)[0], atol=1e-4)


def test_mix_resamples_and_pads_stems(tmp_path, checkpoint, capsys):
    folder = tmp_path / "stems"
    write_stems(folder, 2, seconds=1.0, sample_rate=16000)
    sf.write(folder / "late.flac", np.zeros(6000, dtype=np.float32), 8000)
    out = tmp_path / "mix.wav"
    assert main(["mix", str(folder), "-o", str(out), "--checkpoint", checkpoint]) == 0
    audio, sr = sf.read(out)
    assert sr == 16000 and audio.shape == (16000, 2)
    err = capsys.readouterr().err
    assert "resampled from 8000 Hz" in err and "padded" in err


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda d: d.mkdir(), "No audio files"),
        (lambda d: (d.mkdir(), (d / "notes.txt").write_text("hi")), "No audio files"),
        (lambda d: (d.mkdir(), (d / "bad.wav").write_bytes(b"RIFF junk")), "bad.wav"),
        (lambda d: (write_stems(d, 1), sf.write(d / "empty.wav", np.zeros(0), 16000)), "empty"),
        (lambda d: None, "does not exist"),
    ],
)
def test_bad_stem_folders_give_one_clear_error_and_write_nothing(
    tmp_path, make, message, capsys
):
    folder = tmp_path / "stems"
    make(folder)
    out_dir = tmp_path / "out"
    assert main(["mix", str(folder), "-o", str(out_dir / "mix.wav")]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not out_dir.exists()


def test_stems_of_different_lengths_are_refused_when_strict(tmp_path, capsys):
    folder = tmp_path / "stems"
    write_stems(folder, 1, seconds=1.0)
    write_stems(folder / "x", 1, seconds=0.5)
    (folder / "x" / "stem00.wav").rename(folder / "short.wav")
    out = tmp_path / "mix.wav"
    assert main(["mix", str(folder), "-o", str(out), "--strict-length"]) == 2
    assert "different lengths" in capsys.readouterr().err
    assert not out.exists()


def test_render_refuses_mismatched_stems_and_writes_nothing(tmp_path, stems_dir, checkpoint):
    params_path = tmp_path / "p.json"
    main(
        ["mix", str(stems_dir), "-o", str(tmp_path / "m.wav"), "--params", str(params_path),
         "--checkpoint", checkpoint]
    )
    (stems_dir / "stem01.wav").unlink()
    out = tmp_path / "r.wav"
    assert main(["render", str(stems_dir), str(params_path), "-o", str(out)]) == 2
    assert not out.exists()


def test_unknown_effect_in_spec_suggests_names(tmp_path, stems_dir, capsys):
    out = tmp_path / "m.wav"
    assert main(["mix", str(stems_dir), "-o", str(out), "--spec", "gain+pann"]) == 2
    err = capsys.readouterr().err
    assert "'pan'" in err and "console plugins" in err
    assert not out.exists()


def test_plugins_lists_components_with_units_and_distribution(capsys):
    assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    assert "gain_db" in out and "[-48, 24] dB" in out and "console 0.1.0" in out
    assert "vggish" in out and "stereo" in out
    assert main(["plugins", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    gain = next(e for e in listing["effect"] if e["name"] == "gain")
    assert gain["params"][0]["unit"] == "dB" and gain["distribution"].startswith("console")


def test_written_files_get_the_usual_permissions(tmp_path, stems_dir, checkpoint):
    import os

    out = tmp_path / "mix.wav"
    main(["mix", str(stems_dir), "-o", str(out), "--checkpoint", checkpoint, "-q"])
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask


def test_version_is_printed(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.startswith("console 0.")
