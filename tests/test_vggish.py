import pytest
import torch

from console import CheckpointError
from console_encoders.log_mel import LogMelExamples
from console_encoders.vggish import VGGish, VGGishNetwork
from tests.conftest import TINY_VGGISH


def test_published_architecture_shapes_and_size():
    net = VGGishNetwork()
    n_params = sum(p.numel() for p in net.parameters())
    assert 72_000_000 < n_params < 73_000_000
    names = {k for k in net.state_dict()}
    assert {"features.0.weight", "features.13.weight", "embeddings.4.weight"} <= names
    with torch.no_grad():
        assert net(torch.zeros(2, 96, 64)).shape == (2, 128)


@pytest.mark.parametrize("sample_rate", [16000, 22050, 44100])
def test_log_mel_examples_are_096_s_at_16_khz(sample_rate):
    frontend = LogMelExamples()
    audio = torch.randn(3, int(2.5 * sample_rate))
    examples = frontend(audio, sample_rate)
    assert examples.shape == (3, 2, 96, 64)  # two whole 0.96 s examples in 2.5 s
    short = frontend(torch.randn(1, 1000), sample_rate)
    assert short.shape == (1, 1, 96, 64)


def test_encoder_embeds_each_track_independently():
    enc = VGGish(**TINY_VGGISH).eval()
    audio = torch.randn(3, 20000)
    with torch.no_grad():
        together = enc(audio, 16000)
        alone = enc(audio[1:2], 16000)
    assert together.shape == (3, 128)
    torch.testing.assert_close(together[1:2], alone, rtol=1e-4, atol=1e-5)


def test_loads_a_vggish_state_dict_and_ignores_the_pca_keys(tmp_path):
    source = VGGishNetwork(**TINY_VGGISH)
    state = dict(source.state_dict())
    state["pproc._pca_matrix"] = torch.eye(128)
    path = tmp_path / "vggish.pth"
    torch.save(state, path)
    enc = VGGish(**TINY_VGGISH, weights=str(path))
    for name, tensor in source.state_dict().items():
        assert torch.equal(enc.network.state_dict()[name], tensor)


def test_weights_of_another_shape_are_refused_clearly(tmp_path):
    path = tmp_path / "vggish.pth"
    torch.save(VGGishNetwork(**TINY_VGGISH).state_dict(), path)
    with pytest.raises(CheckpointError, match="does not fit"):
        VGGish(channels=(8, 8, 8, 8), fc=(32, 32), weights=str(path))
    (tmp_path / "junk.pth").write_text("junk")
    with pytest.raises(CheckpointError, match="Cannot read"):
        VGGish(weights=str(tmp_path / "junk.pth"))


def test_trains_from_scratch():
    torch.manual_seed(0)
    enc = VGGish(**TINY_VGGISH)
    head = torch.nn.Linear(128, 1)
    opt = torch.optim.Adam([*enc.parameters(), *head.parameters()], lr=1e-2)
    t = torch.arange(16000) / 16000
    low = torch.sin(2 * torch.pi * 200 * t).expand(4, -1)
    high = torch.sin(2 * torch.pi * 3000 * t).expand(4, -1)
    audio = torch.cat([low, high])
    target = torch.cat([torch.zeros(4, 1), torch.ones(4, 1)])
    losses = []
    for _ in range(15):
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(head(enc(audio, 16000)), target)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
