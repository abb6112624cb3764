"""Training decisions toward the reference mix's: reading faders and pans, batching, weighing."""

from __future__ import annotations

import json
import math

import pytest
import torch

from console.chain import EffectChain
from console.cli.main import main
from console.data import MultitrackDataset, collate_examples, scan_folder
from console.data.collate import Batch
from console.data.reference_decisions import reference_pans
from console.losses.stereo import StereoSTFTLoss
from console.training.mixing_task import MixingTask, relative_level_error


@pytest.fixture
def sessions(tmp_path):
    data = tmp_path / "sessions"
    assert main(["make-sessions", str(data), "--n", "2", "--duration", "2", "--seed", "3",
                 "--sample-rate", "16000", "--source", "synth"]) == 0
    return data


def _engineer_gains(song) -> dict[str, float]:
    params = json.loads((song.mix.parent / "params.json").read_text())
    return {t["name"]: t["effects"]["gain"]["gain_db"] for t in params["tracks"]}


def _engineer_pans(song) -> dict[str, float]:
    params = json.loads((song.mix.parent / "params.json").read_text())
    return {t["name"]: t["effects"]["pan"]["pan"] for t in params["tracks"]}


def test_reference_pans_follow_the_stem_order_and_say_when_unknown(sessions):
    song = scan_folder(sessions)[0]
    expected = _engineer_pans(song)
    assert reference_pans(song) == pytest.approx([expected[n] for n in song.stem_names])
    assert any(abs(p) > 0.05 for p in expected.values())  # a song with panned tracks
    path = song.mix.parent / "params.json"
    params = json.loads(path.read_text())
    dropped = params["tracks"].pop(0)["name"]
    path.write_text(json.dumps(params))
    pans = reference_pans(song)
    assert math.isnan(pans[song.stem_names.index(dropped)])
    assert sum(math.isnan(p) for p in pans) == 1
    path.write_text("{ not json")
    assert reference_pans(song) is None
    path.unlink()
    assert reference_pans(song) is None


GAIN_PAN = EffectChain.from_spec("gain+pan").layout


def test_batches_carry_the_reference_settings_only_when_asked(sessions):
    songs = scan_folder(sessions)
    with_targets = MultitrackDataset(songs, sample_rate=16000, segment_seconds=1.0,
                                     targets=GAIN_PAN)
    batch = collate_examples([with_targets[0], with_targets[1]])
    assert batch.targets is not None and batch.targets.shape == (*batch.mask.shape, 2)
    for b, name in enumerate(batch.songs):
        song = next(s for s in songs if s.name == name)
        gains, pans = _engineer_gains(song), _engineer_pans(song)
        k = len(song.stem_names)
        assert batch.targets[b, :k, 0].tolist() == pytest.approx(
            [gains[n] for n in song.stem_names], abs=1e-5)
        assert batch.targets[b, :k, 1].tolist() == pytest.approx(
            [pans[n] for n in song.stem_names], abs=1e-6)
        assert torch.isnan(batch.targets[b, k:]).all()  # padded tracks
    plain = MultitrackDataset(songs, sample_rate=16000, segment_seconds=1.0)
    assert collate_examples([plain[0], plain[1]]).targets is None
    # Stems normalised to one loudness no longer match the engineer's faders: no targets.
    normalised = MultitrackDataset(songs, sample_rate=16000, segment_seconds=1.0,
                                   targets=GAIN_PAN, stem_lufs=-23.0)
    assert normalised[0].targets is None


def _batch(stems, mask, targets):
    b, k = mask.shape
    return Batch(stems=stems, mask=mask, mix=0.1 * torch.randn(b, 2, stems.shape[-1]),
                 names=[[f"t{i}" for i in range(k)]] * b, roles=[["other"] * k] * b,
                 songs=[f"s{i}" for i in range(b)], starts=torch.zeros(b, dtype=torch.long),
                 targets=targets)


def test_the_pan_term_is_the_mean_distance_error_of_the_known_tracks(tiny_console):
    from console.decisions import Decisions

    torch.manual_seed(0)
    console = tiny_console("gain+pan", decisions=Decisions(pan="balanced")).eval()
    stems = 0.1 * torch.randn(2, 3, 16000)
    mask = torch.tensor([[True, True, True], [True, True, False]])
    stems[1, 2] = 0.0
    pans = torch.tensor([[0.5, -0.8, math.nan], [0.0, 0.3, math.nan]])
    targets = torch.stack([torch.full_like(pans, math.nan), pans], -1)
    batch = _batch(stems, mask, targets)
    plain = MixingTask(console, StereoSTFTLoss(), 16000)
    weighted = MixingTask(console, StereoSTFTLoss(), 16000, pan_weight=2.0)
    with torch.no_grad():
        widths = console(stems, mask, sample_rate=16000).params[..., plain.pan_column].abs()
        known = torch.isfinite(pans) & mask
        expected = (widths - pans.nan_to_num(0).abs())[known].abs().mean()
        difference = weighted.loss(console, batch) - plain.loss(console, batch)
    assert float(difference) == pytest.approx(2.0 * float(expected), rel=1e-5)
    assert float(expected) > 0.01
    console.zero_grad()
    (weighted.loss(console, batch) - plain.loss(console, batch)).backward()
    grads = [p.grad for p in console.post_processor.parameters() if p.grad is not None]
    assert grads and any(float(g.abs().sum()) > 0 for g in grads)


def test_a_pan_weight_needs_a_pan_and_a_sensible_number(tmp_path, capsys, sessions):
    base = ["train", "--data", str(sessions), "--out", str(tmp_path / "run"), "--steps", "1",
            "--sample-rate", "16000", "--no-progress"]
    assert main([*base, "--spec", "gain", "--pan-weight", "1"]) != 0
    assert "pan" in capsys.readouterr().err
    assert main([*base, "--pan-weight", "-1"]) != 0
    assert "--pan-weight" in capsys.readouterr().err


def test_the_relative_level_error_ignores_a_common_offset_and_unknown_tracks():
    gains = torch.tensor([[0.0, 0.0, 0.0, 5.0], [1.0, 2.0, 0.0, 0.0]])
    reference = torch.tensor([[10.0, 16.0, 4.0, math.nan], [0.0, math.nan, math.nan, math.nan]])
    mask = torch.tensor([[True, True, True, True], [True, True, True, False]])
    # Song 0: differences -10, -16, -4 (mean -10) leave 0, 6, 6; song 1 has one known track.
    assert float(relative_level_error(gains, reference, mask)) == pytest.approx(4.0)
    shifted = float(relative_level_error(gains + 7.0, reference, mask))
    assert shifted == pytest.approx(4.0)
    assert relative_level_error(gains, torch.full_like(reference, math.nan), mask) is None


def test_the_level_term_moves_the_faders_toward_the_engineers():
    from console.console import Console
    from console.decisions import Decisions

    torch.manual_seed(0)
    console = Console.from_spec("gain+pan", encoder="mel-stats", encoder_options={},
                                hidden=32, decisions=Decisions.generalising())  # no dropout
    t = torch.arange(16000) / 16000
    stems = torch.stack([0.1 * torch.sin(2 * math.pi * f * t) for f in (80, 700, 5000)])[None]
    mask = torch.ones(1, 3, dtype=torch.bool)
    with torch.no_grad():
        start = console(stems, mask, sample_rate=16000).params[..., 0]
    reference = start + torch.tensor([[6.0, 0.0, -6.0]])  # the engineer's balance
    batch = _batch(stems, mask, torch.stack([reference, torch.full_like(reference, 0.0)], -1))
    task = MixingTask(console, StereoSTFTLoss(), 16000, level_weight=1.0)
    optimiser = torch.optim.Adam(console.post_processor.parameters(), lr=1e-2)
    before = float(relative_level_error(start, reference, mask))
    for _ in range(30):
        optimiser.zero_grad()
        task.loss(console, batch).backward()
        optimiser.step()
    with torch.no_grad():
        after = console(stems, mask, sample_rate=16000).params[..., 0]
    assert before == pytest.approx(4.0, abs=1e-4)
    assert float(relative_level_error(after, reference, mask)) < 0.5 * before


def test_a_level_weight_needs_a_gain_and_a_sensible_number(tmp_path, capsys, sessions):
    base = ["train", "--data", str(sessions), "--out", str(tmp_path / "run"), "--steps", "1",
            "--sample-rate", "16000", "--no-progress", "--pan-weight", "0"]
    assert main([*base, "--spec", "pan", "--level-weight", "1"]) != 0
    assert "gain" in capsys.readouterr().err
    assert main([*base, "--level-weight", "-1"]) != 0
    assert "--level-weight" in capsys.readouterr().err


def test_a_full_chain_is_held_to_the_engineers_settings_by_name(sessions, tmp_path):
    from console.console import Console
    from console.data.reference_decisions import reference_settings
    from console.training.mixing_task import settings_error

    song = scan_folder(sessions)[0]
    # The engineer mixed with eq:dsp; a console with another chain is held to the same names.
    console = Console.from_spec("gain+eq:dsp+comp:dsp+pan", hidden=16)
    targets = reference_settings(song, console.layout)
    params = json.loads((song.mix.parent / "params.json").read_text())
    first = params["tracks"][0]
    k = song.stem_names.index(first["name"])
    for slot in console.layout:
        expected = first["effects"][slot.effect_key][slot.spec.name]
        assert float(targets[k, slot.index]) == pytest.approx(expected, abs=1e-5)
    layout = console.layout
    normalised = torch.stack([s.spec.normalise(targets[:, s.index]) for s in layout], -1)[None]
    mask = torch.ones(1, targets.shape[0], dtype=torch.bool)
    columns = [s.index for s in layout if s.effect_key in ("eq", "comp")]
    assert float(settings_error(normalised, targets[None], layout, columns, mask)) < 1e-5
    assert float(settings_error(normalised * 0.5, targets[None], layout, columns, mask)) > 0.05
    task = MixingTask(console, StereoSTFTLoss(), 16000, effect_weight=1.0)
    assert task.effect_columns == columns


def test_an_effect_weight_needs_an_effect_with_settings(tmp_path, capsys, sessions):
    base = ["train", "--data", str(sessions), "--out", str(tmp_path / "run"), "--steps", "1",
            "--sample-rate", "16000", "--no-progress"]
    assert main([*base, "--spec", "gain+pan", "--effect-weight", "1"]) != 0
    assert "effect weight" in capsys.readouterr().err


def test_free_pans_are_held_to_the_engineers_field_or_its_mirror():
    from console.training.mixing_task import pan_position_error

    reference = torch.tensor([[0.5, -0.4, 0.0, math.nan], [0.6, 0.6, -0.6, 0.0]])
    mask = torch.tensor([[True, True, True, True], [True, True, True, False]])
    assert float(pan_position_error(reference.nan_to_num(0.0), reference, mask)) == 0.0
    mirrored = -reference.nan_to_num(0.0)
    assert float(pan_position_error(mirrored, reference, mask)) == pytest.approx(0.0)
    # Song 0 with the hi-hat and the keys on one side: off by 0.8 on one of three tracks.
    one_side = torch.tensor([[0.5, 0.4, 0.0, 0.9], [0.6, 0.6, -0.6, 0.3]])
    expected = (0.8 / 3 + 0.0) / 2
    assert float(pan_position_error(one_side, reference, mask)) == pytest.approx(expected)
    assert pan_position_error(one_side, torch.full_like(reference, math.nan), mask) is None
