"""The role-rule baseline: the engineer's plain rules, told each stem's role."""

from __future__ import annotations

import pytest
import torch

from console.data.engineer import STYLES
from console.data.loudness import loudness_batch
from console.evaluation.role_rules import role_rule_settings


def _stems(k: int, seconds: float = 1.0, rate: int = 16000) -> torch.Tensor:
    torch.manual_seed(0)
    return 0.05 * torch.randn(k, int(seconds * rate))


def test_each_role_lands_at_its_rule_loudness_whatever_the_recording_level():
    stems = _stems(4)
    stems[1] *= 10.0  # the snare recorded 20 dB hotter
    names = ["kick.wav", "snare.wav", "hihat.wav", "bass.wav"]
    roles = ["kick", "snare", "hihat", "bass"]
    settings = role_rule_settings(stems, names, roles, 16000)
    levels = loudness_batch(stems, 16000) + settings[:, 0]
    for level, role in zip(levels.tolist(), roles, strict=True):
        assert level == pytest.approx(STYLES[role].loudness_lufs, abs=0.05)
    # Kick and hi-hat 9 dB apart, as the rules say.
    assert float(levels[0] - levels[2]) == pytest.approx(9.0, abs=0.1)


def test_pans_follow_convention_and_the_arrangement():
    stems = _stems(6)
    names = ["kick.wav", "snare.wav", "tom_1.wav", "tom_2.wav", "tom_3.wav", "crash.wav"]
    roles = ["kick", "snare", "tom", "tom", "tom", "overhead"]
    pans = role_rule_settings(stems, names, roles, 16000)[:, 1].tolist()
    assert pans[0] == 0.0 and pans[1] == 0.0  # kick and snare centred
    assert pans[2:5] == pytest.approx([0.6, 0.0, -0.6])  # toms across the kit
    assert pans[5] == pytest.approx(0.5)  # the crash to one side


def test_toms_are_placed_high_to_low_whatever_their_file_order():
    stems = _stems(3)
    names = ["tom_floor.wav", "tom_hi.wav", "tom_mid.wav"]  # as a folder sorts them
    pans = role_rule_settings(stems, names, ["tom"] * 3, 16000)[:, 1].tolist()
    assert pans == pytest.approx([-0.6, 0.6, 0.0])
