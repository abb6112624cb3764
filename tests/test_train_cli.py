"""`console make-sessions`, `console train` (with resume) and `console demo`, end to end."""

import json

import pytest
import soundfile as sf
import torch

from console import Console
from console.cli.main import main

TINY = json.dumps({"channels": [4, 8, 8, 8], "fc": [32, 32]})


@pytest.mark.slow
def test_train_on_synthetic_sessions_then_resume_then_mix(tmp_path, capsys):
    data, run = tmp_path / "sessions", tmp_path / "run"
    assert main(["make-sessions", str(data), "--n", "5", "--duration", "3",
                 "--sample-rate", "16000", "--source", "synth"]) == 0
    args = ["train", "--spec", "gain+pan", "--data", str(data), "--out", str(run),
            "--sample-rate", "16000", "--segment-seconds", "1", "--batch-size", "2",
            "--hidden", "16", "--val-every", "2",
            "--checkpoint-every", "2", "--warmup-steps", "0", "--no-progress"]
    assert main([*args, "--steps", "2"]) == 0
    state = torch.load(run / "train_state.pt", weights_only=True)
    assert state["step"] == 2
    assert main([*args, "--steps", "4"]) == 0
    assert "resumed at step 2" in capsys.readouterr().err
    assert torch.load(run / "train_state.pt", weights_only=True)["step"] == 4
    for name in ("console.pt", "best.pt", "loss.png"):
        assert (run / name).exists(), name
    console = Console.load(run / "console.pt")
    assert console.spec == "gain+pan"
    song = sorted(data.iterdir())[0]
    out = tmp_path / "mix.wav"
    assert main(["mix", str(song / "stems"), "-o", str(out), "--checkpoint",
                 str(run / "console.pt"), "-q"]) == 0
    audio, sr = sf.read(out)
    assert sr == 16000 and audio.shape[1] == 2


def test_train_refuses_a_folder_without_songs(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    code = main(["train", "--data", str(tmp_path / "empty"), "--out", str(tmp_path / "r"),
                 "--steps", "1"])
    assert code == 2 and "No songs found" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_demo_writes_a_session_a_mix_and_its_params(tmp_path):
    assert main(["demo", str(tmp_path), "--duration", "2"]) == 0
    stems = sorted((tmp_path / "session" / "stems").glob("*.wav"))
    assert len(stems) >= 4
    audio, _ = sf.read(tmp_path / "mix.wav")
    assert audio.ndim == 2 and audio.shape[1] == 2 and abs(audio).max() > 0
    params = json.loads((tmp_path / "mix.params.json").read_text())
    assert [t["name"] for t in params["tracks"]] == [p.name for p in stems]


def test_init_copies_what_fits_from_another_console(tmp_path, capsys):
    from console.training.warm_start import warm_start

    donor = Console.from_spec("gain+pan", encoder="vggish",
                              encoder_options=json.loads(TINY), hidden=16)
    with torch.no_grad():
        for p in donor.parameters():
            p.add_(1.0)
    donor.save(tmp_path / "donor.pt")
    longer = Console.from_spec("gain+eq:dsp+pan", encoder="vggish",
                               encoder_options=json.loads(TINY), hidden=16)
    started = warm_start(longer, tmp_path / "donor.pt")
    theirs, ours = donor.state_dict(), longer.state_dict()
    assert started.copied and started.kept  # the output layer has another size
    for name in started.copied:
        assert torch.equal(ours[name], theirs[name]), name
    for name in started.kept:
        assert ours[name].shape != theirs[name].shape, name
    assert any(name.startswith("encoder.") for name in started.copied)


def test_init_with_a_missing_source_is_a_clear_error(tmp_path, capsys):
    data = tmp_path / "sessions"
    assert main(["make-sessions", str(data), "--n", "3", "--duration", "2",
                 "--sample-rate", "16000", "--source", "synth"]) == 0
    code = main(["train", "--spec", "gain+pan", "--data", str(data), "--out",
                 str(tmp_path / "run"), "--init", str(tmp_path / "nope.pt"), "--steps", "1",
                 "--sample-rate", "16000", "--no-progress"])
    assert code == 2 and "not a console checkpoint file nor a shipped console" in (
        capsys.readouterr().err
    )


def test_loss_options_that_do_not_fit_the_loss_are_a_clear_error(tmp_path, capsys):
    data = tmp_path / "sessions"
    assert main(["make-sessions", str(data), "--n", "3", "--duration", "2",
                 "--sample-rate", "16000", "--source", "synth"]) == 0
    code = main(["train", "--spec", "gain+pan", "--data", str(data), "--out",
                 str(tmp_path / "run"), "--loss", "stereo:balanced", "--loss-options",
                 '{"w_balanse": 1}', "--steps", "1", "--sample-rate", "16000",
                 "--no-progress"])
    assert code == 2 and "do not fit the loss 'stereo:balanced'" in capsys.readouterr().err


def _sessions(path, n, seed=0):
    assert main(["make-sessions", str(path), "--n", str(n), "--duration", "2", "--seed",
                 str(seed), "--sample-rate", "16000", "--source", "synth"]) == 0


SMALL = ["--sample-rate", "16000", "--segment-seconds", "1", "--batch-size", "2",
         "--hidden", "16", "--warmup-steps", "0", "--no-progress"]


@pytest.mark.slow
def test_the_same_seed_gives_the_same_run(tmp_path):
    data = tmp_path / "sessions"
    _sessions(data, 4)
    losses = []
    for name in ("a", "b"):
        run = tmp_path / name
        assert main(["train", "--data", str(data), "--out", str(run), "--steps", "2",
                     "--seed", "7", *SMALL]) == 0
        state = torch.load(run / "train_state.pt", weights_only=True)
        losses.append(state["history"]["train"])
        weights = state["model"]
        if name == "a":
            first = weights
    assert losses[0] == losses[1]
    assert all(torch.equal(first[k], weights[k]) for k in first)


@pytest.mark.slow
def test_unusable_songs_are_dropped_before_the_split(tmp_path, capsys):
    data = tmp_path / "sessions"
    _sessions(data, 4)
    (data / "song_0000" / "stems" / "kick.wav").write_bytes(b"not audio")
    (data / "empty" / "stems").mkdir(parents=True)
    code = main(["train", "--data", str(data), "--out", str(tmp_path / "run"), "--steps", "1",
                 "--split", "0.4,0.3,0.3", *SMALL])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "1 unusable song(s) left out" in err
    assert "3 validation" not in err


@pytest.mark.slow
def test_max_time_plans_the_run_and_stops_within_the_budget(tmp_path, monkeypatch):
    import console.training.loop as loop

    class Clock:  # every reading advances 0.1 s: a machine where each step costs the same
        now = 0.0

        def monotonic(self):
            self.now += 0.1
            return self.now

    clock = Clock()
    monkeypatch.setattr(loop.time, "monotonic", clock.monotonic)
    data = tmp_path / "sessions"
    _sessions(data, 3)
    run = tmp_path / "run"
    assert main(["train", "--data", str(data), "--out", str(run), "--max-time", "5s",
                 *SMALL]) == 0
    state = torch.load(run / "train_state.pt", weights_only=True)
    # planned from the timed steps: the schedule ends where the budget does
    assert 11 < state["step"] < 60
    assert state["config"]["steps"] == state["step"]
    assert len(state["history"]["val"]) >= 5
    assert clock.now < 5.0 + 1.0
    assert (run / "best.pt").exists()


def test_durations_read_as_a_user_writes_them():
    import argparse

    import pytest

    from console.cli.train import parse_duration

    assert parse_duration("20m") == 1200 and parse_duration("1h30m") == 5400
    assert parse_duration("90s") == 90 and parse_duration("45") == 45
    for bad in ("", "soon", "0m"):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_duration(bad)


def test_train_help_says_what_each_default_is_and_each_file_is(capsys):
    import pytest

    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "best.pt" in out and "train_state.pt" in out
    assert "(default mel-stats)" in out
    assert "(default loudness; with --init, the donor's)" in out


def test_init_continues_the_donor_console_unless_told_otherwise(tmp_path, capsys):
    """Fine-tuning keeps the donor's encoder options, width and decisions: every weight fits."""
    from console.decisions import Decisions

    data = tmp_path / "sessions"
    assert main(["make-sessions", str(data), "--n", "2", "--duration", "2",
                 "--sample-rate", "16000", "--source", "synth"]) == 0
    donor = Console.from_spec("gain+pan", encoder_options={}, hidden=16,
                              decisions=Decisions(level="loudness", pan="free"))
    donor.save(tmp_path / "donor.pt")
    args = ["train", "--data", str(data), "--init", str(tmp_path / "donor.pt"),
            "--sample-rate", "16000", "--segment-seconds", "1", "--batch-size", "2",
            "--steps", "1", "--split", "1,0,0", "--no-progress"]
    assert main([*args, "--out", str(tmp_path / "same")]) == 0
    err = capsys.readouterr().err
    total = len(donor.state_dict())
    assert f"{total} of {total} weight tensors copied" in err
    tuned = Console.load(tmp_path / "same" / "console.pt")
    assert tuned.encoder_options == {} and tuned.hidden == 16
    assert tuned.decisions == Decisions(level="loudness", pan="free")
    assert main([*args, "--out", str(tmp_path / "wider"), "--hidden", "32",
                 "--pan", "balanced"]) == 0
    wider = Console.load(tmp_path / "wider" / "console.pt")
    assert wider.hidden == 32 and wider.decisions.pan == "balanced"


@pytest.mark.slow
def test_max_time_plans_again_when_the_machine_slows_down(tmp_path, monkeypatch):
    import console.training.loop as loop

    class Clock:  # fast at first, then three times slower, as when another job starts
        now, calls = 0.0, 0

        def monotonic(self):
            self.calls += 1
            self.now += 0.05 if self.calls < 60 else 0.15
            return self.now

    monkeypatch.setattr(loop.time, "monotonic", Clock().monotonic)
    data = tmp_path / "sessions"
    _sessions(data, 3)
    run = tmp_path / "run"
    assert main(["train", "--data", str(data), "--out", str(run), "--max-time", "8s",
                 *SMALL]) == 0
    state = torch.load(run / "train_state.pt", weights_only=True)
    # the run ended where its (re-planned) schedule did, not cut off by the budget
    assert state["config"]["steps"] == state["step"]


def test_split_fractions_are_read_one_way_for_train_and_evaluate():
    import pytest

    from console.cli.train import split_fractions
    from console.errors import ConsoleError

    assert split_fractions("0.8,0.1,0.1") == (0.8, 0.1, 0.1)
    for bad in ("a,b,c", "0.5,0.5", "-1,1,1", "0,0,0"):
        with pytest.raises(ConsoleError, match="--split"):
            split_fractions(bad)


def test_fine_tuning_a_console_trains_its_own_chain_unless_told(tmp_path):
    """``--init`` of a full chain without ``--spec`` fine-tunes that chain (it built a gain+pan
    console from the donor's encoder, its last layer new, before)."""
    data = tmp_path / "sessions"
    assert main(["make-sessions", str(data), "--n", "2", "--duration", "1.5",
                 "--sample-rate", "16000", "--source", "synth"]) == 0
    torch.manual_seed(0)
    donor = Console.from_spec("gain+eq:dsp+pan", hidden=16)
    donor.save(tmp_path / "donor.pt")
    common = ["--data", str(data), "--sample-rate", "16000", "--segment-seconds", "1",
              "--batch-size", "1", "--steps", "1", "--split", "1,0,0", "--warmup-steps", "0",
              "--no-progress"]
    assert main(["train", "--init", str(tmp_path / "donor.pt"), "--out",
                 str(tmp_path / "tuned"), *common]) == 0
    assert Console.load(tmp_path / "tuned" / "console.pt").spec == "gain+eq:dsp+pan"
    assert main(["train", "--init", str(tmp_path / "donor.pt"), "--spec", "gain+pan", "--out",
                 str(tmp_path / "other"), *common]) == 0
    assert Console.load(tmp_path / "other" / "console.pt").spec == "gain+pan"
