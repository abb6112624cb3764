"""``console --threads N``: torch's intra-op threads are set before any command runs."""

from __future__ import annotations

import pytest
import torch

from console.cli import main as cli


def add_parser(subparsers) -> None:
    """A command that records the thread count it runs with (this module is a CLI command)."""
    parser = subparsers.add_parser("threads-probe")
    parser.set_defaults(func=lambda args: SEEN.append(torch.get_num_threads()))


SEEN: list[int] = []


@pytest.fixture
def probe(monkeypatch):
    """The CLI with only the probe command, torch's setting restored afterwards."""
    before = torch.get_num_threads()
    monkeypatch.setattr(cli, "COMMANDS", (__name__,))
    for name in cli.THREAD_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    SEEN.clear()
    yield SEEN
    torch.set_num_threads(before)


def test_threads_option_applies_before_the_command_and_is_restored(probe):
    torch.set_num_threads(2)
    assert cli.main(["--threads", "3", "threads-probe"]) == 0
    assert probe == [3]
    assert torch.get_num_threads() == 2  # a caller in this process gets its setting back


@pytest.mark.parametrize(
    ("cores", "load", "expected"),
    [(2, 0.1, 2), (2, 0.6, 1), (2, 5.0, 1), (8, 0.2, 4), (8, 5.4, 3), (1, 0.0, 1)],
)
def test_default_is_the_idle_cores_from_one_to_four(probe, monkeypatch, cores, load, expected):
    monkeypatch.setattr(cli, "available_cores", lambda: cores)
    monkeypatch.setattr(cli.os, "getloadavg", lambda: (load, load, load))
    assert cli.default_threads() == expected
    assert cli.main(["threads-probe"]) == 0
    assert probe == [expected]


def test_default_keeps_torchs_choice_when_the_environment_sets_one(probe, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    monkeypatch.setattr(cli, "default_threads", lambda: 1)
    torch.set_num_threads(3)
    assert cli.main(["threads-probe"]) == 0
    assert probe == [3]
    assert cli.main(["--threads", "1", "threads-probe"]) == 0  # the option still wins
    assert probe == [3, 1]


@pytest.mark.parametrize("value", ["0", "-2", "two"])
def test_a_thread_count_below_one_is_refused(probe, value, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["--threads", value, "threads-probe"])
    assert exc.value.code == 2
    assert "--threads" in capsys.readouterr().err
    assert probe == []


def test_help_explains_the_default(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--threads N" in text and "load average" in text and "1 to 4" in text
