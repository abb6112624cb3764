"""Hostile or damaged input meets one clear line, never a traceback or a silent wrong result
(issue 21, items 6, 7, 9 and 10)."""

from __future__ import annotations

import json
import os
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from console.audio import MAX_SAMPLE_RATE, MIN_SAMPLE_RATE, list_audio_files, probe, read_audio
from console.checkpoint_file import read_checkpoint
from console.cli.main import main
from console.console import Console
from console.errors import AudioInputError, CheckpointError
from console.mix_params import MixParams, MixParamsError
from tests.conftest import error_line, write_stems


@pytest.fixture
def stems_dir(tmp_path: Path) -> Path:
    """Three stems of 10 ms: a render at a 1 GHz rate cannot exhaust memory even in the code
    before the fix, which tried it (and was killed after 54 s on a 1 s stem)."""
    folder = tmp_path / "stems"
    write_stems(folder, 3, seconds=0.01)
    return folder


@pytest.fixture
def mixed(tmp_path, stems_dir, checkpoint, capsys) -> Path:
    """A params file `console mix` wrote for ``stems_dir``."""
    params = tmp_path / "m.params.json"
    assert main(["mix", str(stems_dir), "-o", str(tmp_path / "m.wav"), "--checkpoint",
                 checkpoint, "-q"]) == 0
    capsys.readouterr()
    return params


def edited(params: Path, change) -> Path:
    data = json.loads(params.read_text())
    change(data)
    out = params.with_name("edited.params.json")
    out.write_text(json.dumps(data))
    return out


# -- item 6: sample rates wherever they enter ----------------------------------------------


@pytest.mark.parametrize("rate", [5_000_000, 1000])
def test_a_stem_whose_header_gives_an_absurd_rate_is_refused(tmp_path, checkpoint, capsys,
                                                             rate):
    stems = tmp_path / "stems"
    write_stems(stems, 2, seconds=0.1)  # short: the code before took gigabytes at 5 MHz
    sf.write(stems / "odd.wav", 0.1 * np.ones(4000, np.float32), rate)
    out = tmp_path / "m.wav"
    assert main(["mix", str(stems), "-o", str(out), "--checkpoint", checkpoint]) == 2
    line = error_line(capsys)
    assert "odd.wav" in line and f"{rate} Hz" in line and f"{MIN_SAMPLE_RATE} to" in line
    assert not out.exists()
    with pytest.raises(AudioInputError, match="sample rate"):
        read_audio(stems / "odd.wav")


def test_a_training_song_with_an_absurd_stem_rate_is_skipped_by_name(tmp_path):
    import warnings

    from console.data import DataWarning, scan_folder
    from console.data.checks import check_songs

    for name, rate in (("fine", 8000), ("odd", 5_000_000)):
        (tmp_path / name / "stems").mkdir(parents=True)
        sf.write(tmp_path / name / "stems" / "a.wav", 0.1 * np.ones(8000, np.float32), rate)
        sf.write(tmp_path / name / "mix.wav", 0.1 * np.ones((8000, 2), np.float32), 8000)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        usable = check_songs(scan_folder(tmp_path), 8000, resample=True)
    assert [c.song.name for c in usable] == ["fine"]
    messages = [str(w.message) for w in record if issubclass(w.category, DataWarning)]
    assert any("odd" in m and "5000000 Hz" in m for m in messages)


# 1 GHz is refused as a file is read (below); rendered through the CLI here it would, in the
# code before the fix, try to build a 1 GHz mix and exhaust the machine's memory.
@pytest.mark.parametrize("rate", [1, 7999, MAX_SAMPLE_RATE + 1])
def test_render_refuses_a_params_file_with_an_absurd_rate(tmp_path, stems_dir, mixed, capsys,
                                                          rate):
    params = edited(mixed, lambda d: d.update(sample_rate=rate))
    out = tmp_path / "r.wav"
    assert main(["render", str(stems_dir), str(params), "-o", str(out)]) == 2
    line = error_line(capsys)
    assert "sample_rate" in line and f"got {rate}" in line and str(MAX_SAMPLE_RATE) in line
    assert not out.exists()


@pytest.mark.parametrize("rate", [1_000_000_000, 10**30, 0])
def test_a_params_file_with_an_absurd_rate_is_refused_as_it_is_read(mixed, rate):
    params = edited(mixed, lambda d: d.update(sample_rate=rate))
    with pytest.raises(MixParamsError, match=f"sample_rate must be .* got {rate}"):
        MixParams.load(params)


@pytest.mark.parametrize("argv", [
    ["make-sessions", "{tmp}/data", "--sample-rate", "1", "--source", "synth"],
    ["make-sessions", "{tmp}/data", "--sample-rate", "5000000", "--source", "synth"],
    ["train", "--data", "{tmp}", "--out", "{tmp}/run", "--sample-rate", "100"],
    ["evaluate", "{tmp}", "--systems", "mono", "--out", "{tmp}/run", "--sample-rate", "1"],
])
def test_sample_rate_options_out_of_range_are_one_line(tmp_path, capsys, argv):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    assert main(argv) == 2
    line = error_line(capsys)
    assert "--sample-rate" in line and f"{MIN_SAMPLE_RATE} to {MAX_SAMPLE_RATE} Hz" in line
    assert not (tmp_path / "data").exists() and not (tmp_path / "run").exists()


# -- item 7: accepted without a word ----------------------------------------------------------


def test_a_stem_holding_an_absurd_sample_is_refused_by_name(tmp_path, checkpoint, capsys):
    stems = tmp_path / "stems"
    write_stems(stems, 2)
    audio = 0.1 * np.random.default_rng(0).standard_normal(16000).astype(np.float32)
    audio[8000] = 1e30
    sf.write(stems / "glitch.wav", audio, 16000, subtype="FLOAT")
    out = tmp_path / "m.wav"
    assert main(["mix", str(stems), "-o", str(out), "--checkpoint", checkpoint]) == 2
    line = error_line(capsys)
    assert "glitch.wav" in line and "+600 dBFS" in line and "0.500 s" in line
    assert not out.exists()


def test_a_float_stem_somewhat_over_full_scale_is_still_mixed(tmp_path, checkpoint):
    stems = tmp_path / "stems"
    write_stems(stems, 2)
    sf.write(stems / "hot.wav", 8.0 * np.ones(16000, np.float32), 16000, subtype="FLOAT")
    assert main(["mix", str(stems), "-o", str(tmp_path / "m.wav"), "--checkpoint", checkpoint,
                 "-q"]) == 0


def test_a_params_file_listing_a_track_twice_is_refused(tmp_path, stems_dir, mixed, capsys):
    params = edited(mixed, lambda d: d["tracks"].append(dict(d["tracks"][0])))
    out = tmp_path / "r.wav"
    assert main(["render", str(stems_dir), str(params), "-o", str(out)]) == 2
    line = error_line(capsys)
    assert "stem00.wav" in line and "more than once" in line
    assert not out.exists()


def test_a_dangling_symlink_stem_is_named_not_skipped(tmp_path, checkpoint, capsys):
    stems = tmp_path / "stems"
    write_stems(stems, 2)
    os.symlink(tmp_path / "gone.wav", stems / "vocals.wav")
    out = tmp_path / "m.wav"
    assert main(["mix", str(stems), "-o", str(out), "--checkpoint", checkpoint]) == 2
    line = error_line(capsys)
    assert "vocals.wav" in line and "gone.wav" in line and "does not exist" in line
    assert not out.exists()
    with pytest.raises(AudioInputError, match="symbolic link"):
        list_audio_files(stems)


def _results(test_id: str | None = "t0", participant: str = "p1",
             started: str | None = "2024-01-01T10:00:00Z", mono: float = 40.0) -> dict:
    trials = [{"song": f"s{i}", "order": ["mono", "reference"],
               "ratings": {"mono": mono + i, "reference": 100.0}} for i in range(3)]
    data = {"format": "console-listening-results", "version": 1, "participant": participant,
            "started": started, "trials": trials}
    if test_id is not None:
        data["test_id"] = test_id
    return data


def _write(path: Path, data: dict) -> str:
    path.write_text(json.dumps(data))
    return str(path)


def test_the_same_results_file_twice_is_refused(tmp_path, capsys):
    a = _write(tmp_path / "a.json", _results())
    b = _write(tmp_path / "b.json", _results(participant="p2", mono=60.0))
    out = tmp_path / "analysis"
    assert main(["listening-test", "--analyse", a, b, a, "-o", str(out)]) == 2
    assert "a.json is given twice" in error_line(capsys)
    assert main(["listening-test", "--analyse", a, str(tmp_path / "." / "a.json"),
                 "-o", str(out)]) == 2
    assert "given twice" in error_line(capsys)
    assert not out.exists()


@pytest.mark.parametrize("started", ["2024-01-01T10:00:00Z", None])
def test_a_copied_results_file_is_refused(tmp_path, capsys, started):
    a = _write(tmp_path / "a.json", _results(started=started))
    b = _write(tmp_path / "copy of a.json", _results(started=started))
    out = tmp_path / "analysis"
    assert main(["listening-test", "--analyse", a, b, "-o", str(out)]) == 2
    line = error_line(capsys)
    assert "a.json" in line and "copy of a.json" in line and "same session" in line
    assert not out.exists()


def test_two_participants_are_analysed(tmp_path, capsys):
    a = _write(tmp_path / "a.json", _results())
    b = _write(tmp_path / "b.json", _results(participant="p2", started="2024-01-02T09:00:00Z"))
    assert main(["listening-test", "--analyse", a, b, "-o", str(tmp_path / "analysis")]) == 0


@pytest.mark.parametrize("test_id", [None, "", 7])
def test_results_without_a_test_id_are_refused(tmp_path, capsys, test_id):
    data = _results(test_id=None)
    if test_id is not None:
        data["test_id"] = test_id
    a = _write(tmp_path / "a.json", data)
    b = _write(tmp_path / "b.json", _results(participant="p2", mono=60.0))
    assert main(["listening-test", "--analyse", b, a, "-o", str(tmp_path / "x")]) == 2
    line = error_line(capsys)
    assert "a.json names no test" in line and "test_id" in line


# -- item 9: tracebacks become one line -----------------------------------------------------


@pytest.mark.parametrize("content", [b"\xff\xfe{\x00\"\x00",
                                     '{"format": "\u00e9"}'.encode("latin-1"), "a stem"])
def test_a_params_file_that_is_not_utf8_is_one_line(tmp_path, stems_dir, capsys, content):
    params = tmp_path / "p.json"
    params.write_bytes((stems_dir / "stem00.wav").read_bytes() if content == "a stem" else content)
    assert main(["render", str(stems_dir), str(params), "-o", str(tmp_path / "r.wav")]) == 2
    line = error_line(capsys)
    assert "p.json" in line and "UTF-8" in line
    with pytest.raises(MixParamsError, match="UTF-8"):
        MixParams.load(params)


def test_json_nested_too_deeply_is_one_line(tmp_path, stems_dir, capsys):
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    assert main(["render", str(stems_dir), str(deep), "-o", str(tmp_path / "r.wav")]) == 2
    assert "nests too deeply" in error_line(capsys)
    assert main(["listening-test", "--analyse", str(deep), "-o", str(tmp_path / "a")]) == 2
    assert "nests too deeply" in error_line(capsys)


def test_a_params_file_saved_with_a_byte_order_mark_renders(tmp_path, stems_dir, mixed):
    """Some editors (Notepad) save UTF-8 with a BOM; that is still the file console wrote."""
    params = tmp_path / "bom.params.json"
    params.write_bytes(b"\xef\xbb\xbf" + mixed.read_bytes())
    assert main(["render", str(stems_dir), str(params), "-o", str(tmp_path / "r.wav"),
                 "-q"]) == 0
    results = tmp_path / "r.json"
    results.write_bytes(b"\xef\xbb\xbf" + json.dumps(_results()).encode())
    assert main(["listening-test", "--analyse", str(results), "-o", str(tmp_path / "a")]) == 0


@pytest.mark.parametrize("lr", ["nan", "inf", "-inf", "1e6", "1.5", "0", "-1e-3"])
def test_train_refuses_a_learning_rate_that_can_only_diverge(tmp_path, capsys, lr):
    out = tmp_path / "run"
    assert main(["train", "--data", str(tmp_path), "--out", str(out), f"--lr={lr}"]) == 2
    line = error_line(capsys)
    assert "--lr must be a number above 0 and at most 1" in line
    assert not out.exists()


@pytest.mark.parametrize("lr", ["nan", "1e6"])
def test_train_emulator_refuses_such_a_learning_rate_too(tmp_path, capsys, lr):
    out = tmp_path / "run"
    assert main(["train-emulator", "comp", "--out", str(out), f"--lr={lr}"]) == 2
    assert "--lr must be a number above 0 and at most 1" in error_line(capsys)
    assert not out.exists()


@pytest.mark.parametrize("option,value", [("--segment-seconds", "nan"),
                                          ("--weight-decay", "nan"), ("--grad-clip", "inf")])
def test_train_refuses_other_non_finite_numbers(tmp_path, capsys, option, value):
    assert main(["train", "--data", str(tmp_path), "--out", str(tmp_path / "run"),
                 option, value]) == 2
    assert option in error_line(capsys)


@pytest.mark.parametrize("duration", ["nan", "inf", "0", "-3", "1e-9", "1e9"])
def test_make_sessions_refuses_a_duration_in_one_line(tmp_path, capsys, duration):
    out = tmp_path / "data"
    assert main(["make-sessions", str(out), "--duration", duration, "--source", "synth"]) == 2
    assert "--duration must be a number of seconds from 0.1 to 600" in error_line(capsys)
    assert not out.exists()


@pytest.mark.parametrize("duration", ["nan", "0", "1e9"])
def test_demo_refuses_a_duration_in_one_line(tmp_path, capsys, duration):
    out = tmp_path / "demo"
    assert main(["demo", str(out), f"--duration={duration}"]) == 2
    assert "--duration must be a number of seconds from 0.1 to 600" in error_line(capsys)
    assert not out.exists()


def test_a_diverging_run_is_one_line_not_a_traceback():
    from console.errors import ConsoleError, DivergedError

    assert issubclass(DivergedError, ConsoleError) and issubclass(DivergedError, FloatingPointError)


# -- item 10: damaged checkpoints ------------------------------------------------------------


class _Code:
    def __reduce__(self):  # what a malicious checkpoint would hold
        return (os.system, ("true",))


def _damaged(tmp_path: Path, kind: str, tiny_console) -> Path:
    path = tmp_path / f"{kind}.pt"
    if kind == "truncated":
        tiny_console().save(tmp_path / "whole.pt")
        data = (tmp_path / "whole.pt").read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif kind == "random":
        path.write_bytes(np.random.default_rng(0).bytes(4096))
    elif kind == "pickle":
        path.write_bytes(pickle.dumps({"state_dict": {"a": [1, 2]}}, protocol=4))
    elif kind == "code":
        torch.save({"spec": "gain+pan", "x": _Code()}, path)
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "text":
        path.write_text("not a checkpoint")
    return path


@pytest.mark.parametrize("kind", ["truncated", "random", "pickle", "code", "empty", "text"])
def test_a_damaged_checkpoint_is_one_line_without_an_unsafe_hint(tmp_path, stems_dir,
                                                                 tiny_console, capsys, kind):
    path = _damaged(tmp_path, kind, tiny_console)
    out = tmp_path / "m.wav"
    assert main(["mix", str(stems_dir), "-o", str(out), "--checkpoint", str(path)]) == 2
    line = error_line(capsys)
    assert str(path) in line and "weights_only" not in line and "torch.load" not in line
    assert ("holds Python objects other than weights" if kind == "code"
            else "is damaged or not a torch checkpoint") in line
    assert not out.exists()
    with pytest.raises(CheckpointError) as exc:
        Console.load(path)
    assert "\n" not in str(exc.value) and "weights_only" not in str(exc.value)


def test_a_damaged_emulator_checkpoint_is_one_line(tmp_path, tiny_console):
    from types import SimpleNamespace

    from console_effects.emulator_checkpoint import read_checkpoint as read_emulator

    path = _damaged(tmp_path, "random", tiny_console)
    effect = SimpleNamespace(name="comp:tcn", dsp_reference="comp:dsp", family="comp")
    with pytest.raises(CheckpointError) as exc:
        read_emulator(path, effect)
    message = str(exc.value)
    assert "emulator checkpoint" in message and "damaged" in message
    assert "weights_only" not in message and "\n" not in message


def test_a_folder_given_as_a_checkpoint_is_one_line(tmp_path):
    with pytest.raises(CheckpointError, match="is a folder"):
        read_checkpoint(tmp_path)


def test_probe_and_read_agree_on_the_rate_limits(tmp_path):
    path = tmp_path / "fine.wav"
    sf.write(path, np.zeros(100, np.float32), MIN_SAMPLE_RATE)
    assert probe(path).sample_rate == MIN_SAMPLE_RATE
    shutil.copy(path, tmp_path / "copy.wav")
    assert read_audio(tmp_path / "copy.wav")[1] == MIN_SAMPLE_RATE
