"""The torch musicnn: it computes what the reference computes, and behaves as an encoder must.

The reference outputs in ``tests/data/musicnn_reference.npz`` were saved by
``scripts/check_musicnn_parity.py --write-fixture`` from the ``musicnn``
package on TensorFlow (not needed here).
"""

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch
import torchaudio

from console import Console
from console.errors import CheckpointError, ConsoleError
from console.plugins import get_plugins
from console_encoders.musicnn import (
    MIN_SAMPLES,
    PATCH_FRAMES,
    Musicnn,
    patch_starts,
    slaney_mel_matrix,
)

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"
SR = 16000


def _script(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def msd():
    return Musicnn("msd")


def _tones(n, seconds, rate=SR):
    """``n`` different tracks: decaying tones at different pitches and rates."""
    t = torch.arange(int(seconds * rate)) / rate
    rows = [
        0.3 * torch.sin(2 * torch.pi * (80 * (k + 1)) * t) * torch.exp(-(t % (0.2 + 0.1 * k)) / 0.1)
        for k in range(n)
    ]
    return torch.stack(rows)


def test_registered_frozen_and_200_wide():
    encoder = get_plugins().resolve("encoder", "musicnn").create()
    assert isinstance(encoder, Musicnn)
    assert encoder.embed_dim == 200 and len(encoder.labels) == 50 and encoder.labels[0] == "rock"
    assert not any(p.requires_grad for p in encoder.parameters())
    assert 700_000 < sum(p.numel() for p in encoder.parameters()) < 900_000


@pytest.mark.parametrize("weights", ["msd", "mtt"])
def test_tags_and_penultimate_match_the_reference(weights):
    reference = np.load(DATA / "musicnn_reference.npz")
    audio = _script("check_musicnn_parity").fixture_signal()
    assert int(np.round(audio.astype(np.float64) * 32768).sum()) == int(reference["signal_sum"])
    encoder = Musicnn(weights)
    with torch.no_grad():
        logmel = encoder.frontend(torch.from_numpy(audio)[None])[0]
        patches = torch.stack([logmel[s : s + PATCH_FRAMES] for s in (0, PATCH_FRAMES)])
        features = encoder.network(patches)
    for name in ("tags", "penultimate"):
        ours, theirs = features[name].numpy(), reference[f"{weights}/{name}"]
        assert ours.shape == theirs.shape
        assert np.abs(ours - theirs).max() < 1e-3, name


def test_mel_filters_are_slaneys():
    ours = slaney_mel_matrix()
    theirs = torchaudio.functional.melscale_fbanks(
        257, 0.0, 8000.0, 96, SR, norm="slaney", mel_scale="slaney"
    )
    torch.testing.assert_close(ours, theirs, atol=1e-6, rtol=1e-4)


def test_any_number_of_tracks_rows_independent_and_order_free(msd):
    audio = _tones(3, 3.0, 22050)
    with torch.no_grad():
        together = msd(audio, 22050)
        alone = torch.cat([msd(row[None], 22050) for row in audio])
        permuted = msd(audio[[2, 0, 1]], 22050)
    assert together.shape == (3, 200) and torch.isfinite(together).all()
    torch.testing.assert_close(together, alone, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(permuted, together[[2, 0, 1]], atol=1e-4, rtol=1e-4)
    assert (together[0] - together[2]).abs().max() > 0.1  # different tracks, different features


def test_short_tracks_are_padded_with_silence(msd):
    short = _tones(2, 0.3)
    with torch.no_grad():
        out = msd(short, SR)
        padded = msd(torch.nn.functional.pad(short, (0, MIN_SAMPLES - short.shape[1])), SR)
    assert out.shape == (2, 200) and torch.isfinite(out).all()
    torch.testing.assert_close(out, padded)
    assert msd.patches(short, SR).shape == (2, 1, PATCH_FRAMES, 96)


def test_long_tracks_pool_their_patches(msd):
    assert patch_starts(187) == [0] and patch_starts(188) == [0]  # 3 s at any rate: one patch
    assert patch_starts(3 * 187 + 10) == [0, 187, 374]  # a short tail is left out
    assert patch_starts(3 * 187 + 40) == [0, 187, 374, 40 + 2 * 187]  # a longer one is not
    audio = _tones(1, 7.0)
    patches = msd.patches(audio, SR)
    assert patches.shape[1] == 3
    with torch.no_grad():
        each = msd.network(patches[0])["penultimate"]
        torch.testing.assert_close(msd(audio, SR), each.mean(dim=0, keepdim=True))
        msd.pool = "max"
        try:
            torch.testing.assert_close(msd(audio, SR), each.amax(dim=0, keepdim=True))
        finally:
            msd.pool = "mean"


def test_layers_and_bad_options():
    audio = _tones(1, 1.0)
    with torch.no_grad():
        tags = Musicnn("mtt", layer="tags")(audio, SR)
        pooled = Musicnn("msd", layer="mean_pool")(audio, SR)
    assert tags.shape == (1, 50) and ((tags >= 0) & (tags <= 1)).all()
    assert pooled.shape == (1, 753)
    with pytest.raises(ConsoleError, match="no layer"):
        Musicnn(layer="logits!")
    with pytest.raises(ConsoleError, match="'msd', 'mtt'"):
        Musicnn(weights="msdd")
    with pytest.raises(ConsoleError, match="needs weights"):
        Musicnn(weights=None)


def test_a_file_that_is_not_musicnn_weights_is_refused(tmp_path):
    path = tmp_path / "other.pt"
    torch.save({"state_dict": {}}, path)
    with pytest.raises(CheckpointError, match="convert_musicnn"):
        Musicnn(weights=str(path))


def test_frozen_stays_frozen_in_a_training_console():
    console = Console.from_spec("gain+pan", encoder="musicnn", hidden=16)
    console.encoder.requires_grad_(True)  # what MixingTask does unless --freeze-encoder
    console.train()
    assert not console.encoder.network.training
    assert not any(p.requires_grad for p in console.encoder.parameters())
    out = console(_tones(3, 1.0)[None], sample_rate=SR)
    out.mix.pow(2).mean().backward()
    grads = [p.grad for p in console.post_processor.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    checkpoint = console.checkpoint()
    assert not any(k.startswith("encoder.") for k in checkpoint["state_dict"])
    assert any(k.startswith("encoder.") for k in checkpoint["rebuilt"]["keys"])


def test_unfrozen_it_fine_tunes():
    encoder = Musicnn("msd", frozen=False).train()
    assert not encoder.network.training  # pretrained statistics are kept
    assert Musicnn(None, frozen=False).train().network.training
    assert all(p.requires_grad for p in encoder.parameters())
    # The network takes patches of any length (a short one keeps this test fast).
    encoder.network(torch.randn(2, 40, 96))["penultimate"].pow(2).mean().backward()
    grad = encoder.network.timbral[0].weight.grad
    assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0
    with torch.enable_grad():
        assert encoder(_tones(1, 0.1), SR).requires_grad


# -- the conversion script -----------------------------------------------------------------


def test_the_checkpoint_reader_reads_what_tensorflow_wrote():
    convert = _script("convert_musicnn")
    index = (DATA / "tf_checkpoint" / "tiny.index").read_bytes()
    data = (DATA / "tf_checkpoint" / "tiny.data-00000-of-00001").read_bytes()
    tensors = convert.read_bundle(index, data)
    assert sorted(tensors) == [
        "batch_normalization/moving_variance", "conv2d/kernel", "dense/bias", "global_step"
    ]
    np.testing.assert_array_equal(
        tensors["conv2d/kernel"], np.arange(24, dtype=np.float32).reshape(2, 3, 1, 4) / 7
    )
    np.testing.assert_array_equal(tensors["dense/bias"], np.float32([1.5, -2.25, 3.0]))
    assert tensors["global_step"].dtype == np.int64 and tensors["global_step"] == 1234567890123
    assert tensors["batch_normalization/moving_variance"].dtype == np.float64
    damaged = bytearray(data)
    damaged[5] ^= 1
    with pytest.raises(ValueError, match="checksum"):
        convert.read_bundle(index, bytes(damaged))


def test_the_name_map_and_layouts_cover_the_network():
    convert = _script("convert_musicnn")
    names = convert.variable_names()
    shipped = Musicnn("msd").network.state_dict()
    ours = {k for k in shipped if not k.endswith("num_batches_tracked")}
    assert set(names.values()) == ours and len(names) == 64
    # The shipped weights, put back in TensorFlow's layout, convert to themselves.
    tf_layout = {
        "timbral.1.weight": lambda w: w.permute(2, 3, 1, 0),  # -> (kh, kw, in, out)
        "midend.2.weight": lambda w: w.permute(2, 1, 0)[:, :, None, :],  # -> (7, in, 1, out)
        "dense.weight": lambda w: w.T,
        "dense_norm.running_var": lambda w: w,
    }
    tf_names = {ours: theirs for theirs, ours in names.items()}
    for name, to_tf in tf_layout.items():
        back = convert.to_torch(tf_names[name], name, to_tf(shipped[name]).contiguous().numpy())
        assert torch.equal(back, shipped[name]), name


def test_the_converter_keeps_shipped_weights_unless_forced(tmp_path, capsys):
    convert = _script("convert_musicnn")
    target = tmp_path / "musicnn_msd.pt"
    target.write_bytes(b"shipped")
    assert convert.main(["--source", str(tmp_path / "absent.whl"), "--models", "msd",
                         "--out", str(tmp_path)]) == 0
    assert target.read_bytes() == b"shipped" and "--force" in capsys.readouterr().out
