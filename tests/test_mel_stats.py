"""The CPU encoder: what its statistics see, and that it behaves as an encoder must."""

import pytest
import torch

from console import Console
from console.plugins import get_plugins
from console_encoders.mel_stats import MelStats, log_mel_statistics

SR = 16000


def test_it_is_registered_and_small():
    encoder = get_plugins().resolve("encoder", "mel-stats").create()
    assert isinstance(encoder, MelStats)
    assert sum(p.numel() for p in encoder.parameters()) < 100_000


def test_rows_are_encoded_independently_and_any_length_works():
    torch.manual_seed(0)
    encoder = MelStats().eval()
    audio = torch.randn(3, SR) * 0.1
    with torch.no_grad():
        together = encoder(audio, SR)
        alone = torch.cat([encoder(row[None], SR) for row in audio])
        short = encoder(torch.randn(2, 300) * 0.1, SR)
    torch.testing.assert_close(together, alone, atol=1e-5, rtol=1e-5)
    assert together.shape == (3, 128) and short.shape == (2, 128)


def test_statistics_tell_a_sparse_low_hit_from_a_steady_high_tone():
    t = torch.arange(2 * SR) / SR
    kick = torch.sin(2 * torch.pi * 60 * t) * torch.exp(-(t % 0.5) / 0.05)
    hiss = 0.1 * torch.sin(2 * torch.pi * 6000 * t)
    encoder = MelStats()
    stats = log_mel_statistics(encoder.frontend.frames(torch.stack([kick, hiss]), SR))
    mean, spread, rise, active = stats[:, :64], stats[:, 64:128], stats[:, 128:192], stats[:, 192]
    assert mean[0, :8].mean() > mean[1, :8].mean()  # the kick is low
    assert mean[1, -16:].mean() > mean[0, -16:].mean()  # the tone is high
    assert spread[0].mean() > spread[1].mean() and rise[0].mean() > rise[1].mean()
    assert active[1] > 0.9


def test_a_console_on_it_trains():
    torch.manual_seed(0)
    console = Console.from_spec("gain+pan", encoder="mel-stats", hidden=16)
    out = console(torch.randn(1, 3, SR) * 0.1, sample_rate=SR)
    out.mix.pow(2).mean().backward()
    grads = [p.grad for p in console.encoder.network.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert any(g.abs().sum() > 0 for g in grads)


def test_standardised_statistics_follow_running_estimates_and_survive_a_checkpoint(tmp_path):
    from console.console import Console

    torch.manual_seed(0)
    console = Console.from_spec("gain+pan", encoder="mel-stats",
                                encoder_options={"standardise": True}, hidden=16)
    encoder = console.encoder
    t = torch.arange(16000) / 16000
    tones = torch.stack([0.1 * torch.sin(2 * torch.pi * f * t) for f in (80, 400, 2000, 6000)])
    encoder.train()
    for _ in range(5):
        encoder(tones, 16000)
    assert float(encoder.standardise.running_mean.abs().sum()) > 0  # it learnt the offsets
    encoder(tones[:1], 16000)  # one row in training: running statistics, no error
    path = tmp_path / "c.pt"
    console.save(path)
    loaded = Console.load(path).eval()
    with torch.no_grad():
        assert torch.equal(loaded.encoder(tones, 16000), console.eval().encoder(tones, 16000))


def test_dropout_is_an_option_that_leaves_older_consoles_loading(tmp_path):
    from console.console import Console

    plain = Console.from_spec("gain+pan", hidden=16, encoder_options={})
    dropped = Console.from_spec("gain+pan", hidden=16)  # the default is dropout 0.3
    assert not any(isinstance(m, torch.nn.Dropout) for m in plain.encoder.modules())
    assert any(isinstance(m, torch.nn.Dropout) for m in dropped.encoder.modules())
    path = tmp_path / "d.pt"
    dropped.save(path)
    loaded = Console.load(path)
    assert loaded.encoder_options == {"dropout": 0.3}
    audio = 0.1 * torch.randn(3, 16000)
    dropped.eval()
    loaded.eval()
    with torch.no_grad():
        assert torch.equal(loaded.encoder(audio, 16000), dropped.encoder(audio, 16000))
    with pytest.raises(ValueError, match="dropout"):
        Console.from_spec("gain+pan", encoder_options={"dropout": 1.5})


def test_another_encoders_options_are_refused_by_name():
    """VGGish's options given to the default encoder name the option, not a TypeError."""
    from console.errors import SpecError

    with pytest.raises(SpecError, match="'channels'.*encoder='vggish'"):
        Console.from_spec("gain+pan", encoder_options={"channels": (4, 8, 8, 8)})
