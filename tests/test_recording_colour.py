"""Recording colour: random bass and treble shelves on every stem of a generated session."""

import json

import numpy as np
import torch

from console.cli.main import main
from console.data.recorded import (
    COLOUR_BASS_HZ,
    COLOUR_TREBLE_HZ,
    colour_stems,
    make_recorded_session,
)

SR = 16000


def _band_gain_db(before: torch.Tensor, after: torch.Tensor, lo: float, hi: float) -> float:
    spectrum_a = torch.fft.rfft(before.double()).abs() ** 2
    spectrum_b = torch.fft.rfft(after.double()).abs() ** 2
    hz = torch.fft.rfftfreq(before.shape[-1], 1.0 / SR)
    band = (hz >= lo) & (hz < hi)
    return float(10 * torch.log10(spectrum_b[band].sum() / spectrum_a[band].sum()))


def test_shelves_move_the_low_and_high_ends_by_the_drawn_gains():
    noise = torch.from_numpy(np.random.default_rng(0).standard_normal((6, 4 * SR))).float()
    coloured, colours = colour_stems(noise, SR, 8.0, seed=3)
    assert len(colours) == 6
    for k, (bass, treble) in enumerate(colours):
        assert abs(bass) <= 8.0 and abs(treble) <= 6.0
        low = _band_gain_db(noise[k], coloured[k], 20, COLOUR_BASS_HZ / 3)
        high = _band_gain_db(noise[k], coloured[k], COLOUR_TREBLE_HZ * 1.6, SR / 2)
        middle = _band_gain_db(noise[k], coloured[k], 800, 1200)
        assert abs(low - bass) < 1.5, (low, bass)
        assert abs(high - treble) < 1.5, (high, treble)
        assert abs(middle) < 1.5
    assert len({c for c in colours}) == 6  # every stem its own colour


def test_colour_leaves_the_arrangement_and_levels_alone_and_zero_changes_nothing():
    plain = make_recorded_session(seed=7, source="procedural", duration=2.0, sample_rate=SR)
    again = make_recorded_session(seed=7, source="procedural", duration=2.0, sample_rate=SR,
                                  colour_db=0.0)
    coloured = make_recorded_session(seed=7, source="procedural", duration=2.0, sample_rate=SR,
                                     colour_db=8.0)
    assert torch.equal(plain.stems, again.stems) and torch.equal(plain.mix, again.mix)
    assert coloured.names == plain.names and coloured.roles == plain.roles
    # each coloured stem still arrives at its drawn recording level
    np.testing.assert_allclose(coloured.input_lufs, plain.input_lufs)
    assert not torch.allclose(coloured.stems, plain.stems, atol=1e-3)
    assert all(c != (0.0, 0.0) for c in coloured.colours)
    assert all(c == (0.0, 0.0) for c in plain.colours)


def test_make_sessions_records_each_stems_colour_and_refuses_extreme_ones(tmp_path, capsys):
    out = tmp_path / "data"
    assert main(["make-sessions", str(out), "--n", "1", "--duration", "1.5", "--sample-rate",
                 str(SR), "--source", "procedural", "--colour", "6"]) == 0
    tracks = json.loads((out / "song_0000" / "session.json").read_text())["tracks"]
    assert all(abs(t["colour_db"]["bass"]) <= 6 and abs(t["colour_db"]["treble"]) <= 4.5
               for t in tracks)
    assert any(t["colour_db"]["bass"] != 0 for t in tracks)
    assert main(["make-sessions", str(tmp_path / "x"), "--source", "procedural",
                 "--colour", "30"]) == 2
    assert "--colour" in capsys.readouterr().err
