"""The full DSP console (gain, EQ, compressor, reverb, pan) trains end to end."""

from __future__ import annotations

import pytest
import torch

from console import Console
from console.losses.stereo import StereoSTFTLoss

SPEC = "gain+eq:dsp+comp:dsp+reverb:dsp+pan"
SR = 16000


@pytest.mark.slow
def test_dsp_chain_trains_end_to_end():
    torch.manual_seed(0)
    console = Console.from_spec(
        SPEC, encoder="vggish", encoder_options=dict(channels=(8, 16, 32, 32), fc=(64, 64)),
        hidden=32,
    )
    assert console.spec == SPEC
    g = torch.Generator().manual_seed(1)
    t = torch.arange(SR) / SR
    tones = torch.stack([torch.sin(2 * torch.pi * f * t) for f in (110.0, 440.0, 1760.0)])
    envelope = (torch.rand(2, 3, 1, generator=g) + 0.2) * (1 + torch.sin(2 * torch.pi * 3 * t))
    stems = 0.3 * envelope * tones + 0.02 * torch.randn(2, 3, SR, generator=g)

    target = torch.stack([slot.spec.sample((2, 3), generator=g) for slot in console.layout], -1)
    with torch.no_grad():
        reference = console.render(stems, target, sample_rate=SR)
    loss_fn = StereoSTFTLoss(fft_sizes=(256, 1024), hop_sizes=(64, 256), win_lengths=(256, 1024))
    optimizer = torch.optim.Adam(console.parameters(), lr=3e-3)

    losses = []
    for _ in range(3):
        optimizer.zero_grad()
        loss = loss_fn(console(stems, sample_rate=SR).mix, reference)
        loss.backward()
        grads = [p.grad for p in console.parameters() if p.grad is not None]
        assert grads and all(torch.isfinite(grad).all() for grad in grads)
        assert any(grad.abs().sum() > 0 for grad in grads)
        optimizer.step()
        losses.append(loss.item())
    assert all(torch.isfinite(torch.tensor(losses)))
    assert losses[-1] < losses[0]
