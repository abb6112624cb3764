"""Loudness-relative gains and side-balanced pans: level invariance, no side preference."""

import pytest
import torch

from console import Console
from console.data.loudness import loudness_batch
from console.decisions import REFERENCE_LUFS, Decisions, balanced_sides

SR = 16000
GENERALISING = Decisions.generalising()


def stems(b, k, seconds=1.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    tones = torch.sin(2 * torch.pi * torch.arange(int(seconds * SR)) / SR * 110.0)
    levels = 10 ** (torch.empty(b, k, 1).uniform_(-30, 0, generator=g) / 20)
    noise = 0.05 * torch.randn(b, k, int(seconds * SR), generator=g)
    return levels * (0.3 * tones + noise)


def test_an_untrained_console_mixes_every_stem_equally_loud(tiny_console):
    console = tiny_console(decisions=GENERALISING)
    x = stems(1, 5)
    with torch.no_grad():
        out = console(x, sample_rate=SR)
    gains = out.params[0, :, 0]
    levels = loudness_batch(x[0] * 10 ** (gains[:, None] / 20), SR)
    torch.testing.assert_close(levels, torch.full((5,), REFERENCE_LUFS), atol=0.05, rtol=0)


def test_a_stem_recorded_20_db_hotter_gets_20_db_less_and_the_mix_is_unchanged(tiny_console):
    console = tiny_console(decisions=GENERALISING)
    x = stems(1, 4)
    hot = x.clone()
    hot[0, 2] *= 10.0
    with torch.no_grad():
        a = console(x, sample_rate=SR)
        b = console(hot, sample_rate=SR)
    torch.testing.assert_close(b.params[0, 2, 0], a.params[0, 2, 0] - 20.0, atol=1e-3, rtol=0)
    torch.testing.assert_close(b.params[..., 1], a.params[..., 1], atol=1e-5, rtol=0)
    torch.testing.assert_close(b.mix, a.mix, atol=1e-5, rtol=1e-4)


def test_the_paper_parameterisation_is_not_level_invariant(tiny_console):
    """The failure the loudness-relative gain removes, so the test above can fail."""
    console = tiny_console()
    x = stems(1, 4)
    hot = x.clone()
    hot[0, 2] *= 10.0
    with torch.no_grad():
        a, b = console(x, sample_rate=SR), console(hot, sample_rate=SR)
    assert not torch.allclose(b.params[0, 2, 0], a.params[0, 2, 0] - 20.0, atol=0.5)


def test_balanced_pans_use_both_sides_in_every_song(tiny_console):
    console = tiny_console(decisions=GENERALISING, seed=3)
    x = stems(6, 6, seed=1)
    with torch.no_grad():
        pans = console(x, sample_rate=SR).params[..., 1]
    for song in pans:
        assert (song > 0).any() and (song < 0).any()
        # widest first, each on the lighter side: the sum is at most the widest width
        assert float(song.sum().abs()) <= float(song.abs().max()) + 1e-6


def test_balanced_sides_place_widest_first_on_the_lighter_side():
    width = torch.tensor([0.2, 0.9, 0.5, 0.4, 0.7])
    songs = torch.tensor([0, 0, 0, 1, 1])
    signs = balanced_sides(width, songs, 2, first=torch.tensor([1.0, -1.0]))
    assert signs.tolist() == [-1.0, 1.0, -1.0, 1.0, -1.0]


def test_generalising_console_keeps_the_console_properties(tiny_console):
    console = tiny_console(decisions=GENERALISING)
    x = stems(1, 5)
    perm = torch.tensor([3, 0, 4, 1, 2])
    padded = torch.cat([x, torch.randn(1, 1, x.shape[-1])], dim=1)
    mask = torch.tensor([[True] * 5 + [False]])
    with torch.no_grad():
        a = console(x, sample_rate=SR)
        b = console(x[:, perm], sample_rate=SR)
        c = console(padded, mask, sample_rate=SR)
    torch.testing.assert_close(a.mix, b.mix, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(a.params[:, perm], b.params, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(a.mix, c.mix, rtol=1e-5, atol=1e-6)
    rendered = console.render(x, a.params, sample_rate=SR)
    torch.testing.assert_close(rendered, a.mix, rtol=1e-5, atol=1e-6)


def test_gradients_reach_gain_and_pan_width(tiny_console):
    console = tiny_console(decisions=GENERALISING)
    out = console(stems(1, 3), sample_rate=SR)
    out.mix.pow(2).mean().backward()
    last = console.post_processor.net[-2]
    assert last.weight.grad[0].abs().sum() > 0 and last.weight.grad[1].abs().sum() > 0


def test_decisions_survive_a_checkpoint_and_old_files_read_as_the_paper(tiny_console, tmp_path):
    console = tiny_console(decisions=GENERALISING)
    console.save(tmp_path / "c.pt")
    assert Console.load(tmp_path / "c.pt").decisions == GENERALISING
    data = console.checkpoint()
    del data["decisions"]
    assert Console.from_checkpoint(data).decisions == Decisions()


@pytest.mark.parametrize("bad", [{"level": "loud"}, "x", {"pan": "free", "other": 1}])
def test_damaged_decisions_are_one_clear_error(tiny_console, bad):
    from console.errors import CheckpointError

    data = tiny_console().checkpoint()
    data["decisions"] = bad
    with pytest.raises(CheckpointError, match="decisions"):
        Console.from_checkpoint(data)
