"""The training loop the docs show: Console.from_spec trained from Python lowers its loss."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from console.cli.main import main

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "train_from_python.py"


def _example():
    spec = importlib.util.spec_from_file_location("train_from_python", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_documented_loop_lowers_the_loss_on_one_session(tmp_path, monkeypatch):
    data = tmp_path / "songs"
    assert main(["make-sessions", str(data), "--n", "1", "--duration", "3", "--seed", "5",
                 "--sample-rate", "22050", "--source", "synth"]) == 0
    monkeypatch.chdir(tmp_path)
    losses = _example().train(data, steps=40)
    assert len(losses) == 40
    # One song, one 3 s segment: every step sees the same batch.
    assert sum(losses[-5:]) / 5 < 0.9 * losses[0]
    assert (tmp_path / "console.pt").is_file()


def test_the_tutorial_includes_the_tested_example():
    tutorial = EXAMPLE.parents[1] / "docs" / "tutorials" / "train-a-console.rst"
    assert "examples/train_from_python.py" in tutorial.read_text(encoding="utf-8")
