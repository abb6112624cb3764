"""The console's defining properties: any K, order invariance, masking, gradients, I/O."""

import pytest
import torch

from console import AudioInputError, CheckpointError, Console, MixParams

SR = 16000


def stems(b, k, seconds=1.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    return 0.3 * torch.randn(b, k, int(seconds * SR), generator=g)


@pytest.mark.parametrize("k", [1, 2, 8, 64])
def test_any_number_of_stems(tiny_console, k):
    console = tiny_console()
    x = stems(2, k, seconds=0.5)
    with torch.no_grad():
        out = console(x, sample_rate=SR)
    assert out.mix.shape == (2, 2, x.shape[-1])
    assert out.params.shape == (2, k, 2)
    assert torch.isfinite(out.mix).all()
    gain, pan = out.params[..., 0], out.params[..., 1]
    assert bool(((gain >= -48) & (gain <= 24)).all()) and bool(((pan >= -1) & (pan <= 1)).all())


def test_permuting_the_stems_leaves_the_mix_unchanged(tiny_console):
    console = tiny_console()
    x = stems(1, 5)
    perm = torch.tensor([3, 0, 4, 1, 2])
    with torch.no_grad():
        a = console(x, sample_rate=SR)
        b = console(x[:, perm], sample_rate=SR)
    torch.testing.assert_close(a.mix, b.mix, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(a.params[:, perm], b.params, rtol=1e-5, atol=1e-5)


def test_a_masked_padding_stem_changes_nothing(tiny_console):
    console = tiny_console()
    x = stems(1, 3)
    padded = torch.cat([x, 10 * torch.randn(1, 1, x.shape[-1])], dim=1)
    mask = torch.tensor([[True, True, True, False]])
    with torch.no_grad():
        a = console(x, sample_rate=SR)
        b = console(padded, mask, sample_rate=SR)
    torch.testing.assert_close(a.mix, b.mix, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(a.params, b.params[:, :3])
    # the padded row reports the defaults rather than a prediction
    assert b.params[0, 3].tolist() == [0.0, 0.0]


def test_songs_in_one_batch_do_not_influence_each_other(tiny_console):
    console = tiny_console()
    x = stems(2, 4)
    mask = torch.tensor([[True, True, False, False], [True, True, True, True]])
    with torch.no_grad():
        both = console(x, mask, sample_rate=SR)
        alone = console(x[:1, :2], sample_rate=SR)
    torch.testing.assert_close(both.mix[:1], alone.mix, rtol=1e-5, atol=1e-6)


def test_gradients_reach_the_post_processor_and_the_encoder(tiny_console):
    console = tiny_console()
    out = console(stems(2, 3), sample_rate=SR)
    out.mix.pow(2).mean().backward()
    for name, module in (("post", console.post_processor), ("encoder", console.encoder)):
        grads = [p.grad for p in module.parameters() if p.requires_grad]
        assert grads and all(g is not None for g in grads), name
        assert sum(float(g.abs().sum()) for g in grads) > 0, name


@pytest.mark.parametrize("shape", [(1, 0, 100), (1, 2, 0), (2, 100)])
def test_empty_or_misshapen_stems_are_refused(tiny_console, shape):
    with pytest.raises(AudioInputError):
        tiny_console()(torch.zeros(shape), sample_rate=SR)


def test_stems_of_different_lengths_are_refused(tiny_console):
    with pytest.raises(AudioInputError, match="pad"):
        tiny_console()([torch.zeros(100), torch.zeros(120)], sample_rate=SR)


def test_a_song_with_every_stem_masked_is_refused(tiny_console):
    with pytest.raises(AudioInputError, match="unmasked"):
        tiny_console()(stems(2, 2), torch.tensor([[True, True], [False, False]]), sample_rate=SR)


def test_render_with_predicted_params_reproduces_the_mix(tiny_console):
    console = tiny_console()
    x = stems(1, 3)
    with torch.no_grad():
        out = console(x, sample_rate=SR)
        again = console.render(x, out.params, sample_rate=SR)
    torch.testing.assert_close(again, out.mix)


def test_editing_one_track_changes_only_that_track(tiny_console):
    console = tiny_console()
    x = stems(1, 3)
    with torch.no_grad():
        out = console(x, sample_rate=SR)
        params = MixParams.from_json(
            out.mix_params(console, ["a", "b", "c"], SR).to_json()
        )
        edited = params.with_value("b", "gain", "gain_db", -40.0)
        before = console.render(x, params, sample_rate=SR)
        after = console.render(x, edited, sample_rate=SR)
        # subtract track b's contribution at both settings: the rest is identical
        only_b = torch.zeros_like(x)
        only_b[:, 1] = x[:, 1]
        b_before = console.render(only_b, params, sample_rate=SR)
        b_after = console.render(only_b, edited, sample_rate=SR)
    assert not torch.allclose(before, after)
    torch.testing.assert_close(before - b_before, after - b_after, rtol=1e-5, atol=1e-6)
    assert edited.tracks[1].effects["gain"]["gain_db"] == -40.0
    assert edited.tracks[0] == params.tracks[0] and edited.tracks[2] == params.tracks[2]


def test_save_and_load_round_trip(tiny_console, tmp_path):
    console = tiny_console()
    path = tmp_path / "c.pt"
    console.save(path)
    loaded = Console.load(path)
    x = stems(1, 2)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x, sample_rate=SR).mix, console(x, sample_rate=SR).mix)
    data = torch.load(path, weights_only=True)
    assert data["spec"] == "gain+pan" and data["versions"]["console"]
    assert data["encoder_options"]["fc"] == (32, 32)
    assert not list(tmp_path.glob(".*tmp*")), "temporary file left behind"


def test_checkpoint_errors_are_readable(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        Console.load(tmp_path / "missing.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="damaged or not a torch checkpoint"):
        Console.load(junk)
    torch.save({"hello": 1}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not a console checkpoint"):
        Console.load(tmp_path / "other.pt")


def test_a_checkpoint_of_another_chain_is_refused(tiny_console, tmp_path):
    data = tiny_console().checkpoint()
    data["state_dict"]["post_processor.net.4.weight"] = torch.zeros(7, 32)
    with pytest.raises(CheckpointError, match="wrong shapes"):
        Console.from_checkpoint(data)
    del data["state_dict"]["post_processor.net.4.weight"]
    with pytest.raises(CheckpointError, match="missing weights"):
        Console.from_checkpoint(data)
