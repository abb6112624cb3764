"""`console make-sessions`, `console train` (with resume) and `console demo`, end to end."""

import json

import soundfile as sf
import torch

from console import Console
from console.cli.main import main

TINY = json.dumps({"channels": [4, 8, 8, 8], "fc": [32, 32]})


def test_train_on_synthetic_sessions_then_resume_then_mix(tmp_path, capsys):
    data, run = tmp_path / "sessions", tmp_path / "run"
    assert main(["make-sessions", str(data), "--n", "5", "--duration", "3",
                 "--sample-rate", "16000", "--source", "synth"]) == 0
    args = ["train", "--spec", "gain+pan", "--data", str(data), "--out", str(run),
            "--sample-rate", "16000", "--segment-seconds", "1", "--batch-size", "2",
            "--encoder-options", TINY, "--hidden", "16", "--val-every", "2",
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

    donor = Console.from_spec("gain+pan", encoder_options=json.loads(TINY), hidden=16)
    with torch.no_grad():
        for p in donor.parameters():
            p.add_(1.0)
    donor.save(tmp_path / "donor.pt")
    longer = Console.from_spec("gain+eq:dsp+pan", encoder_options=json.loads(TINY), hidden=16)
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
                 "--sample-rate", "16000", "--encoder-options", TINY, "--no-progress"])
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
                 "--encoder-options", TINY, "--no-progress"])
    assert code == 2 and "do not fit the loss 'stereo:balanced'" in capsys.readouterr().err
