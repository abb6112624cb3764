"""The leave-one-source-out benchmark's per-role report and baselines."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pytest
import torch

from console.cli.main import main

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_generalisation.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_generalisation", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_levels_by_role_average_each_roles_deviation_and_skip_silence(bench):
    per_song = [{"a": {"levels": [3.0, -3.0, math.nan]}},
                {"a": {"levels": [5.0, -5.0]}}]
    roles = [["kick", "hihat", "tom"], ["kick", "hihat"]]
    table = bench.levels_by_role(per_song, roles, ["a"])
    assert table["kick"] == {"tracks": 2, "a": 4.0}
    assert table["hihat"] == {"tracks": 2, "a": -4.0}
    assert "tom" not in table  # its only track was silent


def test_the_baselines_render_what_their_names_say(bench, tmp_path):
    data = tmp_path / "songs"
    assert main(["make-sessions", str(data), "--n", "1", "--duration", "2", "--seed", "4",
                 "--sample-rate", "16000", "--source", "synth"]) == 0
    song = bench.scan_folder(data)[0]
    loaded = bench.load_song(song, 16000)
    roles = bench.song_roles(song)
    mixes, settings, faders = bench.mix_song(loaded, {}, 16000, 0, roles)
    # The dry engineer row is the engineer's faders and pans; the role rules are told.
    assert torch.equal(settings[bench.ENGINEER_DRY], faders)
    told = settings[bench.ROLE_RULES]
    assert not torch.equal(told, faders)
    rows = bench.score_song(loaded, mixes, settings, faders, 16000,
                            (bench.StereoSTFTLoss(), bench.StereoSTFTLoss(w_diff=0.0)))
    assert rows[bench.ENGINEER_DRY]["level"] == pytest.approx(0.0, abs=1e-5)
    assert rows[bench.ENGINEER_DRY]["pan_err"] == pytest.approx(0.0, abs=1e-6)
    assert rows["loudness"]["level"] > rows[bench.ROLE_RULES]["level"]
    assert "oracle" not in " ".join(bench.BASELINES)


def test_extra_training_sets_link_beside_the_first(bench, tmp_path):
    """train2 links every training source's songs and its second set; finished sets are kept."""
    for folder in ["sessions", bench.extra_sessions(1)]:
        for source in bench.DATA_PLAN:
            (tmp_path / folder / source).mkdir(parents=True)
            (tmp_path / folder / source / ".complete").touch()
    bench.make_data(tmp_path, extra_sets=1)
    linked = sorted(p.name for p in (tmp_path / "train2").iterdir())
    assert linked == sorted([*bench.SPLITS["train"],
                             *(f"{s}-extra" for s in bench.SPLITS["train"])])
    source = bench.SPLITS["train"][0]
    assert (tmp_path / "train2" / f"{source}-extra").resolve() == \
        (tmp_path / "sessions-extra" / source).resolve()
    assert sorted(p.name for p in (tmp_path / "train").iterdir()) == sorted(bench.SPLITS["train"])
    with pytest.raises(SystemExit, match="at most"):
        bench.make_data(tmp_path, extra_sets=len(bench.EXTRA_SEED_OFFSETS) + 1)
