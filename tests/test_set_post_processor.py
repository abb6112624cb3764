"""The set-aware post-processor: tracks of a song decide together, in any order and number."""

from __future__ import annotations

import pytest
import torch

from console.console import Console
from console.decisions import Decisions
from console.errors import CheckpointError
from console.set_post_processor import padded_by_song


def _console(seed: int = 0) -> Console:
    torch.manual_seed(seed)
    return Console.from_spec("gain+pan", encoder="mel-stats", hidden=32,
                             decisions=Decisions(level="loudness", pan="free"),
                             post_processor="set")


def _stems(b: int, k: int, seed: int = 1) -> torch.Tensor:
    torch.manual_seed(seed)
    t = torch.arange(16000) / 16000
    tones = torch.stack([torch.sin(2 * torch.pi * (60 + 300 * i) * t) for i in range(k)])
    return 0.1 * tones[None].repeat(b, 1, 1) * (1 + torch.rand(b, k, 1))


def test_rows_go_to_their_songs_and_back_whatever_their_order():
    rows = torch.arange(10.0).view(5, 2)
    batch_index = torch.tensor([1, 0, 1, 1, 0])
    padded, valid, flat = padded_by_song(rows, batch_index, 2)
    assert padded.shape == (2, 3, 2)
    assert valid.tolist() == [[True, True, False], [True, True, True]]
    assert padded[0, :2].tolist() == [[2.0, 3.0], [8.0, 9.0]]  # song 0 keeps its rows' order
    assert torch.equal(padded.view(-1, 2)[flat], rows)


def test_settings_follow_the_stems_when_they_are_reordered():
    console = _console().eval()
    stems = _stems(1, 4)
    perm = torch.tensor([2, 0, 3, 1])
    with torch.no_grad():
        a = console(stems, sample_rate=16000).params[0]
        b = console(stems[:, perm], sample_rate=16000).params[0]
    assert torch.allclose(a[perm], b, atol=1e-5)
    assert float(a[:, 0].std()) > 0  # tracks that sound different get different faders


def test_padded_tracks_change_nothing_and_other_tracks_do():
    console = _console().eval()
    stems = _stems(1, 4)
    mask = torch.tensor([[True, True, True, False]])
    noisy = stems.clone()
    noisy[0, 3] = torch.randn(16000)
    with torch.no_grad():
        a = console(stems, mask, sample_rate=16000)
        b = console(noisy, mask, sample_rate=16000)
        alone = console(stems[:, :2], sample_rate=16000)
    assert torch.equal(a.params, b.params) and torch.equal(a.mix, b.mix)
    # A track's setting depends on which other tracks are in its song.
    assert not torch.allclose(a.params[0, :2], alone.params[0], atol=1e-6)


def test_a_set_console_saves_and_loads_as_itself(tmp_path):
    console = _console()
    path = tmp_path / "set.pt"
    console.save(path)
    loaded = Console.load(path)
    assert loaded.post_processor_kind == "set"
    stems = _stems(1, 3)
    with torch.no_grad():
        assert torch.equal(console.eval()(stems, sample_rate=16000).params,
                           loaded.eval()(stems, sample_rate=16000).params)
    data = torch.load(path, weights_only=True)
    data["post_processor"] = "lstm"
    torch.save(data, path)
    with pytest.raises(CheckpointError, match="post-processor 'lstm'"):
        Console.load(path)


def test_checkpoints_from_before_the_option_load_with_the_mlp(tmp_path):
    torch.manual_seed(0)
    console = Console.from_spec("gain+pan", encoder="mel-stats", hidden=32)
    data = console.checkpoint()
    del data["post_processor"]
    path = tmp_path / "old.pt"
    torch.save(data, path)
    assert Console.load(path).post_processor_kind == "mlp"
