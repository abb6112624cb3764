import numpy as np
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


# -- an independent reference: the VGGish recipe in numpy ----------------------------------
# The feature recipe of tensorflow/models research/audioset vggish (mel_features.py) and the
# published network, written out here without torch so the encoder is checked against them.

CONV_LAYERS = ("features.0", "features.3", "features.6", "features.8", "features.11",
               "features.13")
POOL_AFTER = {"features.0", "features.3", "features.8", "features.13"}
FC_LAYERS = ("embeddings.0", "embeddings.2", "embeddings.4")


def reference_log_mel(audio: np.ndarray) -> np.ndarray:
    """``(frames, 64)`` log-mel of 16 kHz audio: 25 ms windows, 10 ms hop, HTK mel 125-7500 Hz."""
    window, hop, n_fft = 400, 160, 512
    frames = 1 + (len(audio) - window) // hop
    index = np.arange(window)[None, :] + hop * np.arange(frames)[:, None]
    hann = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(window) / window)  # periodic
    magnitude = np.abs(np.fft.rfft(audio[index] * hann, n_fft))  # zero-padded at the end
    mel = lambda hz: 1127.0 * np.log(1.0 + hz / 700.0)  # noqa: E731
    bins = mel(np.linspace(0.0, 8000.0, n_fft // 2 + 1))
    edges = np.linspace(mel(125.0), mel(7500.0), 64 + 2)
    weights = np.zeros((n_fft // 2 + 1, 64))
    for band in range(64):
        low, centre, high = edges[band : band + 3]
        rising, falling = (bins - low) / (centre - low), (high - bins) / (high - centre)
        weights[:, band] = np.maximum(0.0, np.minimum(rising, falling))
    weights[0] = 0.0
    return np.log(magnitude @ weights + 0.01)


def reference_examples(audio: np.ndarray) -> np.ndarray:
    """Non-overlapping 0.96 s examples ``(E, 96, 64)``; a partial last one is dropped."""
    logmel = reference_log_mel(audio)
    count = len(logmel) // 96
    return logmel[: count * 96].reshape(count, 96, 64)


def reference_network(state: dict[str, np.ndarray], example: np.ndarray) -> np.ndarray:
    """The VGGish CNN on one ``(96, 64)`` example: 3x3 convolutions, 2x2 max pools,
    flattened height-width-channel as TensorFlow did, three ReLU dense layers."""
    x = example[None]
    for name in CONV_LAYERS:
        w, b = state[f"{name}.weight"], state[f"{name}.bias"]
        padded = np.pad(x, ((0, 0), (1, 1), (1, 1)))
        height, width = x.shape[1:]
        out = np.zeros((w.shape[0], height, width))
        for dy in range(3):
            for dx in range(3):
                patch = padded[:, dy : dy + height, dx : dx + width]
                out += np.einsum("oi,ihw->ohw", w[:, :, dy, dx], patch)
        x = np.maximum(out + b[:, None, None], 0.0)
        if name in POOL_AFTER:
            c, h, w_ = x.shape
            x = x.reshape(c, h // 2, 2, w_ // 2, 2).max(axis=(2, 4))
    x = x.transpose(1, 2, 0).reshape(-1)
    for name in FC_LAYERS:
        x = np.maximum(state[f"{name}.weight"] @ x + state[f"{name}.bias"], 0.0)
    return x


def test_log_mel_frames_match_the_vggish_recipe():
    rng = np.random.default_rng(0)
    t = np.arange(int(3.3 * 16000)) / 16000
    audio = (0.3 * np.sin(2 * np.pi * 440 * t) + 0.1 * rng.standard_normal(t.shape)
             + 0.3 * np.sin(2 * np.pi * 3000 * t) * (t > 1.3) + 0.5 * (np.abs(t - 2.0) < 0.003))
    ours = LogMelExamples()(torch.from_numpy(audio).float()[None], 16000)[0].double().numpy()
    reference = reference_examples(audio)
    assert ours.shape == reference.shape == (3, 96, 64)
    np.testing.assert_allclose(ours, reference, atol=1e-3, rtol=0)


def random_weights(seed: int) -> dict[str, torch.Tensor]:
    """Published layer names with random weights big enough that every layer matters."""
    torch.manual_seed(seed)
    state = VGGishNetwork(**TINY_VGGISH).state_dict()
    return {k: torch.randn_like(v) * (0.5 if k.endswith("weight") else 0.1)
            for k, v in state.items()}


@pytest.mark.parametrize("layout", ["torchvggish", "torchaudio"])
def test_loaded_weights_compute_what_the_published_network_computes(tmp_path, layout):
    state = random_weights(seed=1)
    saved = dict(state)
    if layout == "torchaudio":
        saved = {k.replace("features.", "features_network.").replace(
            "embeddings.", "embedding_network."): v for k, v in state.items()}
    else:
        saved["pproc._pca_matrix"] = torch.eye(128)  # torchvggish's post-processor: ignored
    torch.save(saved, tmp_path / "vggish.pth")
    enc = VGGish(**TINY_VGGISH, weights=str(tmp_path / "vggish.pth")).eval()
    rng = np.random.default_rng(2)
    audio = 0.3 * rng.standard_normal(int(2.1 * 16000))
    with torch.no_grad():
        ours = enc(torch.from_numpy(audio).float()[None], 16000)[0].double().numpy()
    numpy_state = {k: v.double().numpy() for k, v in state.items()}
    reference = np.mean(
        [reference_network(numpy_state, ex) for ex in reference_examples(audio)], axis=0
    )
    assert np.abs(reference).max() > 0.1  # the check is not on an all-zero output
    np.testing.assert_allclose(ours, reference, rtol=1e-3, atol=1e-3 * np.abs(reference).max())


def test_weights_of_no_known_layout_are_refused_naming_both(tmp_path):
    torch.save({"conv1.weight": torch.zeros(3)}, tmp_path / "other.pth")
    with pytest.raises(CheckpointError, match="torchaudio"):
        VGGish(**TINY_VGGISH, weights=str(tmp_path / "other.pth"))


def test_weights_of_another_shape_are_refused_clearly(tmp_path):
    path = tmp_path / "vggish.pth"
    torch.save(VGGishNetwork(**TINY_VGGISH).state_dict(), path)
    with pytest.raises(CheckpointError, match="does not fit"):
        VGGish(channels=(8, 8, 8, 8), fc=(32, 32), weights=str(path))
    (tmp_path / "junk.pth").write_text("junk")
    with pytest.raises(CheckpointError, match="VGGish weights .* damaged or not a torch chec"):
        VGGish(weights=str(tmp_path / "junk.pth"))


@pytest.mark.slow
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
