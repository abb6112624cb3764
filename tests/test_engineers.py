"""Named engineers: the default one unchanged, and ``punchy``, whose conventions differ."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from console.chain import EffectChain
from console.cli.main import main
from console.data.engineer import (
    DEFAULT_ENGINEER,
    ENGINEERS,
    PUNCHY_STYLES,
    STYLES,
    EngineerStyle,
    choose_settings,
    draw_style,
    get_engineer,
)
from console.data.loudness import loudness_batch
from console.data.recorded import make_recorded_session
from console.errors import ConsoleError

SR = 16000
LAYOUT = EffectChain.from_spec("gain+pan").layout


def faders(session) -> torch.Tensor:
    """``(K, 2)`` gain in dB and pan of each track."""
    return session.params.to_tensor(LAYOUT)


def test_engineers_are_named_tables_over_the_same_roles():
    assert list(ENGINEERS) == [DEFAULT_ENGINEER, "punchy"]
    assert get_engineer(DEFAULT_ENGINEER).styles is STYLES
    assert get_engineer("punchy").styles is PUNCHY_STYLES
    assert set(PUNCHY_STYLES) == set(STYLES)
    with pytest.raises(ConsoleError, match="Did you mean punchy"):
        get_engineer("punchie")


def test_the_default_engineer_mixes_a_fixed_seed_as_before():
    # Written before engineers had names: the default's songs must not change.
    session = make_recorded_session(seed=7, source="procedural", duration=2.0,
                                    sample_rate=SR, spec="gain+pan")
    assert session.engineer == DEFAULT_ENGINEER
    assert session.style == EngineerStyle(
        mirror=True, width=1.14, lcr=False,
        level_db={"drums": 0.53, "bass": 1.02, "front": -1.14, "harmony": -0.52},
        eq=1.089, compression=0.809, reverb=0.876,
    )
    assert session.names == ["kick.wav", "snare.wav", "hihat.wav", "clap.wav", "bass.wav",
                             "keys1.wav", "keys2.wav", "lead.wav", "vocals.wav"]
    expected = torch.tensor([
        [-0.258511, 0.0], [-6.567334, -0.045282], [11.934397, -0.461856],
        [16.166393, 0.375917], [-2.40697, 0.0], [-2.857068, 0.28566],
        [-3.670923, 0.681599], [9.685938, -0.07324], [12.263512, -0.067732],
    ])
    torch.testing.assert_close(faders(session), expected, atol=2e-3, rtol=0)
    again = make_recorded_session(seed=7, source="procedural", duration=2.0, sample_rate=SR,
                                  spec="gain+pan", engineer=DEFAULT_ENGINEER)
    assert torch.equal(again.mix, session.mix)


def test_punchy_mixes_the_same_song_by_its_own_conventions():
    by_role: dict[str, list[tuple[float, float, float, float]]] = {}
    for seed in range(8):
        plain = make_recorded_session(seed=seed, source="procedural", duration=2.0,
                                      sample_rate=SR, spec="gain+pan")
        punchy = make_recorded_session(seed=seed, source="procedural", duration=2.0,
                                       sample_rate=SR, spec="gain+pan", engineer="punchy")
        assert punchy.names == plain.names and punchy.engineer == "punchy"
        a, b = faders(plain), faders(punchy)
        # the same recording, levelled around the same wish: the faders differ by the rules
        for k, role in enumerate(plain.roles):
            rule = PUNCHY_STYLES[role].loudness_lufs - STYLES[role].loudness_lufs
            assert float(b[k, 0] - a[k, 0]) == pytest.approx(rule, abs=1e-3), role
        level_a = loudness_batch(plain.stems, SR) + a[:, 0]
        level_b = loudness_batch(punchy.stems, SR) + b[:, 0]
        level_a, level_b = level_a - level_a.mean(), level_b - level_b.mean()
        for k, role in enumerate(plain.roles):
            by_role.setdefault(role, []).append((
                float(level_b[k] - level_a[k]), float(a[k, 1].abs()), float(b[k, 1].abs()),
                float(b[k, 0] - a[k, 0]),
            ))
    mean = {role: np.mean(rows, axis=0) for role, rows in by_role.items()}
    for role in ("kick", "snare", "bass", "vocals", "lead"):  # forward in the mix
        assert mean[role][0] > 0.5 and mean[role][3] > 1.9, role
        assert mean[role][2] <= 0.05, role  # and centred
    for role in ("hihat", "overhead"):  # back, and further out
        assert mean[role][0] < -1.5 and mean[role][2] > mean[role][1] + 0.15, role
    for role in ("keys", "guitar"):  # wider
        assert mean[role][2] > mean[role][1] + 0.15, role


def test_punchy_spreads_toms_and_cymbals_wider_and_compresses_harder():
    stems = torch.randn(5, SR) * 0.1
    roles = ["tom", "tom", "tom", "overhead", "overhead"]
    hints = [0.6, 0.0, -0.6, 0.5, -0.5]
    chain = EffectChain.from_spec("gain+comp:dsp+pan")
    names = [slot.spec.name for slot in chain.layout]
    plain = choose_settings(chain, stems, roles, SR, np.random.default_rng(0),
                            pan_hints=hints)
    punchy = choose_settings(chain, stems, roles, SR, np.random.default_rng(0),
                             pan_hints=hints, engineer=get_engineer("punchy"))
    pan = names.index("pan")
    torch.testing.assert_close(plain[:, pan], torch.tensor(hints))
    assert bool((punchy[:, pan].abs() > plain[:, pan].abs() + 0.1)[[0, 2, 3, 4]].all())
    ratio = next(i for i, n in enumerate(names) if "ratio" in n)
    assert bool((punchy[:, ratio] > plain[:, ratio]).all())


def test_one_engineer_varies_less_from_song_to_song():
    plain = [draw_style(np.random.default_rng(s)) for s in range(200)]
    punchy = [get_engineer("punchy").draw_style(np.random.default_rng(s)) for s in range(200)]
    assert not any(s.mirror for s in punchy) and any(s.mirror for s in plain)
    spread = [np.std([s.level_db["drums"] for s in styles]) for styles in (plain, punchy)]
    assert spread[1] < 0.6 * spread[0]


def test_make_sessions_engineer_option(tmp_path, capsys):
    args = ["--n", "1", "--seed", "2", "--duration", "1.5", "--sample-rate", str(SR),
            "--source", "procedural", "--spec", "gain+pan"]
    assert main(["make-sessions", str(tmp_path / "plain"), *args]) == 0
    assert main(["make-sessions", str(tmp_path / "punchy"), *args, "--engineer", "punchy"]) == 0
    plain = json.loads((tmp_path / "plain/song_0000/session.json").read_text())
    punchy = json.loads((tmp_path / "punchy/song_0000/session.json").read_text())
    assert "engineer_name" not in plain  # the default's songs are written as before
    assert punchy["engineer_name"] == "punchy"
    assert [t["name"] for t in punchy["tracks"]] == [t["name"] for t in plain["tracks"]]
    capsys.readouterr()
    assert main(["make-sessions", str(tmp_path / "x"), *args, "--engineer", "punchie"]) == 2
    assert "Did you mean punchy" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
    assert main(["make-sessions", str(tmp_path / "y"), "--source", "synth", "--n", "1",
                 "--engineer", "punchy"]) == 2
    assert "recorded sources" in capsys.readouterr().err


def test_the_role_rule_baseline_can_be_told_whose_rules():
    from console.evaluation.role_rules import role_rule_settings

    stems = torch.randn(3, SR) * 0.1
    names, roles = ["kick.wav", "hihat.wav", "keys1.wav"], ["kick", "hihat", "keys"]
    plain = role_rule_settings(stems, names, roles, SR)
    punchy = role_rule_settings(stems, names, roles, SR, engineer="punchy")
    torch.testing.assert_close(punchy[:, 0] - plain[:, 0], torch.tensor([3.0, -3.0, -2.0]))
    assert float(punchy[2, 1].abs()) > float(plain[2, 1].abs())
