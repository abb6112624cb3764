"""What the third hostile-input probe found (benchmarks/probe_hostile_inputs.py, issue 21):
each input here once ended in a traceback, lost a user's file, or gave a wrong result with
exit 0; now it is one clear line, or the user's file is kept."""

from __future__ import annotations

import errno
import fcntl
import json
import os
from pathlib import Path

import pytest
import soundfile as sf
import torch

from console.atomic import atomic_write_text, temporary_beside
from console.cli.main import main
from console.mix_params import MixParams, MixParamsError
from console.numbers import is_finite_number
from tests.conftest import error_line, write_stems
from tests.test_listening_test import _hand_made_evaluation


def refused_by_argparse(argv: list[str], capsys) -> str:
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code == 2
    return error_line(capsys)


# -- seeds, devices and seconds: one line before any work ---------------------------------


SEED_COMMANDS = {
    "mix": ["mix", "stems", "-o", "m.wav", "--untrained"],
    "demo": ["demo", "d", "--duration", "1"],
    "make-sessions": ["make-sessions", "songs", "--n", "1"],
    "train": ["train", "--data", "data", "--out", "run"],
    "train-emulator": ["train-emulator", "eq", "--out", "run"],
    "evaluate": ["evaluate", "data", "--systems", "mono", "--out", "e"],
}


@pytest.mark.parametrize("value", ["-5", "99999999999999999999999"])
@pytest.mark.parametrize("command", sorted(SEED_COMMANDS))
def test_a_seed_no_generator_takes_is_one_line(tmp_path, monkeypatch, capsys, command, value):
    """10^23 was an overflow traceback (mix, train, train-emulator); -5 one in demo, a
    cryptic line after an empty folder in make-sessions, and accepted by evaluate."""
    monkeypatch.chdir(tmp_path)
    line = refused_by_argparse([*SEED_COMMANDS[command], f"--seed={value}"], capsys)
    assert "--seed" in line and "0 to 4294967295" in line
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("device", ["banana", "cuda:7"])
@pytest.mark.parametrize("command", ["train", "train-emulator"])
def test_a_device_the_machine_lacks_is_one_line(tmp_path, capsys, command, device):
    if device == "cuda:7" and torch.cuda.is_available() and torch.cuda.device_count() > 7:
        pytest.skip("this machine has a cuda:7")
    argv = (["train", "--data", str(tmp_path / "data")] if command == "train"
            else ["train-emulator", "eq", "--audio", str(tmp_path / "audio")])
    assert main([*argv, "--out", str(tmp_path / "run"), "--device", device]) == 2
    assert "--device" in error_line(capsys)


@pytest.mark.parametrize("seconds", ["0.5", "1e9"])
def test_train_refuses_a_segment_the_loss_cannot_read_or_memory_hold(tmp_path, capsys,
                                                                     seconds):
    """0.5 s at 8 kHz is shorter than the stereo loss's 8192-point FFT (a ValueError deep in
    the first step); 10^9 s asked numpy for 291 TiB."""
    assert main(["train", "--data", str(tmp_path / "none"), "--out", str(tmp_path / "run"),
                 "--sample-rate", "8000", "--segment-seconds", seconds]) == 2
    line = error_line(capsys)
    assert "--segment-seconds" in line
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("option, value", [
    ("--segment-seconds", "-1"), ("--segment-seconds", "1e9"), ("--response-settings", "-5"),
    ("--channels", "0"), ("--l1-weight", "nan"), ("--workers", "-1"),
])
def test_train_emulator_refuses_nonsense_before_any_work(tmp_path, capsys, option, value):
    """Tracebacks (negative dimensions, 160 TiB, a tensor of -5 settings) or, for
    --channels 0, a network of no width trained without a word."""
    assert main(["train-emulator", "eq:greybox", "--out", str(tmp_path / "run"), "--audio",
                 str(tmp_path / "none"), f"{option}={value}"]) == 2
    assert option in error_line(capsys)


@pytest.mark.parametrize("option, value", [
    ("--max-songs", "-1"), ("--max-songs", "0"), ("--excerpt-seconds", "-1"),
    ("--excerpt-seconds", "nan"),
])
def test_evaluate_refuses_nonsense_numbers(tmp_path, capsys, option, value):
    """--max-songs -1 dropped the last song with exit 0; the excerpt lengths were tracebacks."""
    assert main(["evaluate", str(tmp_path / "none"), "--systems", "mono", "--out",
                 str(tmp_path / "e"), f"{option}={value}"]) == 2
    assert option in error_line(capsys)


@pytest.mark.parametrize("rate", ["0", "1", "400000"])
def test_plot_refuses_a_sample_rate_out_of_range(tmp_path, capsys, rate):
    """0 drew at 44100 Hz, 1 drew at 1 Hz, 10^9 filled the memory: all with exit 0."""
    out = tmp_path / "eq.png"
    assert main(["plot", "eq", "--sample-rate", rate, "-o", str(out)]) == 2
    assert "--sample-rate" in error_line(capsys)
    assert not out.exists()


# -- names, disks and leftovers -----------------------------------------------------------


def test_an_output_name_too_long_for_a_file_system_is_one_line(tmp_path, capsys):
    """The params file's name (mix name + .params.json) was an ENAMETOOLONG traceback."""
    write_stems(tmp_path / "stems", 2, seconds=0.1)
    out = tmp_path / ("a" * 246 + ".wav")
    assert main(["mix", str(tmp_path / "stems"), "-o", str(out), "-q"]) == 2
    assert "bytes long" in error_line(capsys)


def test_a_name_too_long_to_exist_is_one_line_wherever_it_is_met(tmp_path, capsys):
    assert main(["mix", str(tmp_path / ("c" * 300)), "-o", str(tmp_path / "m.wav")]) == 2
    assert "File name too long" in error_line(capsys)


def test_a_long_name_that_fits_gets_a_temporary_that_fits_too(tmp_path):
    path = tmp_path / ("b" * 250 + ".json")
    atomic_write_text(path, "{}")
    assert path.read_text() == "{}"


def test_a_killed_writes_temporary_is_removed_by_the_next_write_but_a_live_one_kept(tmp_path):
    """A kill -9 during console mix left a hidden 15 MB .mix.XXXXXXXX.tmp.wav for ever."""
    dead = tmp_path / ".mix.k1ll3d00.tmp.wav"
    dead.write_bytes(b"half a mix")
    live = tmp_path / ".mix.w0rk1ng0.tmp.wav"
    live.write_bytes(b"being written")
    fd = os.open(live, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)  # as the process writing it holds it
    try:
        atomic_write_text(tmp_path / "mix.wav", "new")
    finally:
        os.close(fd)
    assert not dead.exists() and live.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [live.name, "mix.wav"]


def test_a_write_that_fails_on_a_full_disk_says_so(tmp_path, monkeypatch):
    """torch.save and libsndfile report a full disk as a RuntimeError ("unexpected pos",
    "System error"): a traceback from console train, export and evaluate."""
    monkeypatch.setattr("console.atomic._disk_full", lambda folder: True)
    with pytest.raises(OSError) as raised, temporary_beside(tmp_path / "state.pt"):
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos")
    assert raised.value.errno == errno.ENOSPC
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("failure", [
    OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)),
    sf.LibsndfileError(2, "writing: "),
])
def test_a_file_system_refusal_is_one_line(tmp_path, monkeypatch, capsys, failure):
    def fail(*_, **__):
        raise failure

    monkeypatch.setattr("console.cli.plot.plot_effect", fail)
    assert main(["plot", "eq", "-o", str(tmp_path / "eq.png")]) == 2
    assert "space" in error_line(capsys)


def test_mix_says_which_audio_it_leaves_out(tmp_path, checkpoint, capsys):
    """Stems in a subfolder or saved as .mp3 were left out of the mix without a word."""
    stems = tmp_path / "stems"
    write_stems(stems, 2, seconds=0.2)
    write_stems(stems / "drums", 1, seconds=0.2)
    (stems / "vocals.mp3").write_bytes(b"ID3 not read")
    (stems / "notes.txt").write_text("not audio, not mentioned")
    assert main(["mix", str(stems), "-o", str(tmp_path / "m.wav"), "--checkpoint", checkpoint,
                 "-q"]) == 0
    err = capsys.readouterr().err
    assert "drums/" in err and "vocals.mp3" in err and "notes.txt" not in err


# -- hand-edited files ------------------------------------------------------------------


def test_a_params_file_giving_a_key_twice_is_refused():
    """JSON keeps the last of two values silently: the user's edit written first was lost."""
    text = json.dumps({"format": "console-mix-params", "version": 2, "spec": "gain",
                       "sample_rate": 8000,
                       "tracks": [{"name": "a.wav", "effects": {"gain": {"gain_db": 0.0}}}]})
    with pytest.raises(MixParamsError, match="'gain_db' twice"):
        MixParams.from_json(text.replace('"gain_db": 0.0', '"gain_db": 6.0, "gain_db": 0.0'))


def test_a_gain_of_four_hundred_digits_is_named():
    """It was "invalid content: unknown error (int too large to convert to float)"."""
    text = json.dumps({"format": "console-mix-params", "version": 2, "spec": "gain",
                       "sample_rate": 8000,
                       "tracks": [{"name": "a.wav", "effects": {"gain": {"gain_db": 0.0}}}]})
    with pytest.raises(MixParamsError, match=r"gain\.gain_db must be a finite number, got 9{30}"
                                             r"\.\.\. \(400 characters\)"):
        MixParams.from_json(text.replace('"gain_db": 0.0', '"gain_db": ' + "9" * 400))


def _results(path: Path, participant: str, **trial_edits) -> str:
    trials = [{"song": f"s{i}", "order": ["mono", "reference"],
               "ratings": {"mono": 40.0 + i, "reference": 100.0}} for i in range(3)]
    data = {"format": "console-listening-results", "version": 1, "test_id": "t0",
            "participant": participant, "started": f"2024-01-0{len(participant)}T10:00:00Z",
            "trials": trials}
    text = json.dumps(data)
    for old, new in trial_edits.items():
        text = text.replace(old, new, 1)
    path.write_text(text)
    return str(path)


def test_a_rating_of_four_hundred_digits_is_one_line(tmp_path, capsys):
    assert not is_finite_number(10**400)
    big = _results(tmp_path / "big.json", "pp", **{'"mono": 40.0': '"mono": ' + "9" * 400})
    assert main(["listening-test", "--analyse", _results(tmp_path / "a.json", "p"), big, "-o",
                 str(tmp_path / "out")]) == 2
    assert "big.json" in error_line(capsys)


def test_a_song_rated_twice_in_one_results_file_is_refused(tmp_path, capsys):
    """A copied trial counted the song twice for one listener and narrowed the interval."""
    twice = _results(tmp_path / "twice.json", "pp", **{'"song": "s1"': '"song": "s0"'})
    assert main(["listening-test", "--analyse", _results(tmp_path / "a.json", "p"), twice,
                 "-o", str(tmp_path / "out")]) == 2
    line = error_line(capsys)
    assert "twice.json" in line and "'s0'" in line and "twice" in line


def test_the_analysis_never_replaces_the_users_ratings_file(tmp_path, capsys):
    """listening-test --analyse -o FOLDER replaced the user's own ratings.csv there."""
    files = [_results(tmp_path / "a.json", "p"), _results(tmp_path / "b.json", "pp")]
    out = tmp_path / "out"
    out.mkdir()
    (out / "ratings.csv").write_text("my own ratings\n")
    assert main(["listening-test", "--analyse", *files, "-o", str(out)]) == 2
    assert "ratings.csv" in error_line(capsys)
    assert (out / "ratings.csv").read_text() == "my own ratings\n"
    assert main(["listening-test", "--analyse", *files, "-o", str(out), "--force"]) == 0
    assert (out / "ratings.csv").read_text().startswith("system,")
    assert main(["listening-test", "--analyse", *files, "-o", str(out)]) == 0  # its own


def test_rebuilding_a_site_keeps_the_users_edits_to_its_files(tmp_path, capsys):
    """A rebuilt site replaced a style.css the user had edited, and deleted an edited file
    the new site no longer needs."""
    two = _hand_made_evaluation(tmp_path / "two", {"s0": "s0", "s1": "s1"})
    one = _hand_made_evaluation(tmp_path / "one", {"s0": "s0"})
    site = tmp_path / "site"
    assert main(["listening-test", str(two), "-o", str(site)]) == 0
    assert main(["listening-test", str(two), "-o", str(site)]) == 0  # unchanged: rebuilt
    capsys.readouterr()
    sf.write(site / "audio" / "s1" / "mono.wav", torch.zeros(9, 2).numpy(), 8000)
    assert main(["listening-test", str(one), "-o", str(site)]) == 0
    assert sf.info(str(site / "audio" / "s1" / "mono.wav")).frames == 9  # edited: kept
    with (site / "style.css").open("a") as css:
        css.write("body { background: hotpink; }\n")
    assert main(["listening-test", str(one), "-o", str(site)]) == 2
    assert "style.css" in error_line(capsys)
    assert (site / "style.css").read_text().endswith("hotpink; }\n")


def test_evaluate_again_keeps_a_hand_edited_summary(tmp_path, capsys):
    """A second evaluate into the same --out replaced the user's edited summary.csv."""
    data, out = tmp_path / "data", tmp_path / "e"
    assert main(["make-sessions", str(data), "--n", "2", "--duration", "1", "--sample-rate",
                 "8000", "--source", "procedural"]) == 0
    argv = ["evaluate", str(data), "--systems", "mono", "--out", str(out), "--subset", "all",
            "--sample-rate", "8000", "--excerpt-seconds", "0.5", "--no-plots", "--no-progress"]
    assert main(argv) == 0
    assert main(argv) == 0  # its own, unchanged output is written again
    capsys.readouterr()
    with (out / "summary.csv").open("a") as summary:
        summary.write("my note\n")
    assert main(argv) == 2
    assert "summary.csv" in error_line(capsys)
    assert (out / "summary.csv").read_text().endswith("my note\n")
    assert main([*argv, "--force"]) == 0
    assert "my note" not in (out / "summary.csv").read_text()
    excerpt = next((out / "excerpts").glob("*/mono.wav"))
    excerpt.write_bytes(b"RIFF my own excerpt")
    capsys.readouterr()
    assert main(argv) == 2
    assert "mono.wav" in error_line(capsys)
    assert excerpt.read_bytes() == b"RIFF my own excerpt"
