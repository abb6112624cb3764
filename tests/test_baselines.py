"""The baseline mixers: any number of stems, masking, their defining behaviour, training."""

from __future__ import annotations

import math

import pytest
import torch

from console.data.collate import Example, collate_examples
from console.data.loudness import loudness_lufs
from console.errors import ConsoleError
from console.losses import StereoSTFTLoss
from console.mixer import create_mixer, load_mixer, mix_whole_song
from console.plugins import get_plugins
from console.training import TrainConfig, Trainer
from console.training.mixer_task import MixerTask
from console_baselines.mono import MonoMixer

SR = 8000
TINY_UNET = {"levels": 3, "channels": 4}
BASELINES = ["mono", "random", "loudness", "wave-u-net"]


def make(name: str, **options):
    if name == "wave-u-net":
        options = {**TINY_UNET, **options}
    torch.manual_seed(0)
    return create_mixer(name, **options)


def noise(*shape: int, seed: int = 0, level: float = 0.1) -> torch.Tensor:
    return level * torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def test_every_baseline_is_registered_by_the_baselines_plugin():
    registry = get_plugins().registry("mixer")
    for name in BASELINES:
        assert name in registry and "baselines" in registry[name].plugin


@pytest.mark.parametrize("name", BASELINES)
@pytest.mark.parametrize("tracks", [1, 2, 7])
def test_any_number_of_stems_gives_a_finite_stereo_mix(name, tracks):
    stems = noise(2, tracks, 3000, seed=tracks)
    mix = make(name)(stems, None, SR)
    assert mix.shape == (2, 2, 3000)
    assert torch.isfinite(mix).all() and mix.abs().max() > 0


@pytest.mark.parametrize("name", BASELINES)
def test_masked_stems_change_nothing(name):
    stems = noise(2, 4, 3000)
    mask = torch.tensor([[True, True, False, False], [True, True, True, False]])
    loud = stems.clone()
    loud[~mask] = 5.0 * noise(int((~mask).sum()), 3000, seed=9)
    clean = make(name)(stems, mask, SR)
    garbage = make(name)(loud, mask, SR)
    torch.testing.assert_close(garbage, clean)
    alone = make(name)(stems[:1, :2], None, SR)  # the same song without padding
    if name != "random":  # random draws depend on how many rows precede
        torch.testing.assert_close(clean[:1], alone, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("name", ["mono", "loudness", "wave-u-net"])
def test_the_order_of_the_stems_does_not_matter(name):
    stems = noise(1, 5, 2000, seed=3)
    order = torch.tensor([3, 0, 4, 2, 1])
    mixer = make(name)
    torch.testing.assert_close(mixer(stems[:, order], None, SR), mixer(stems, None, SR),
                               atol=1e-5, rtol=1e-4)


def test_mono_is_the_centred_unity_gain_sum():
    stems = torch.stack([torch.full((100,), 0.2), torch.full((100,), -0.5)])[None]
    mix = make("mono")(stems, None, SR)
    torch.testing.assert_close(mix, torch.full((1, 2, 100), -0.3 / math.sqrt(2.0)))


def test_loudness_brings_every_stem_to_the_same_loudness():
    stems = torch.stack([noise(SR, seed=1, level=0.3), noise(SR, seed=2, level=0.003)])[None]
    mixer = make("loudness", stem_lufs=-28.0)
    gains = mixer.gains_db(stems, torch.ones(1, 2, dtype=torch.bool), SR)
    for k in range(2):
        levelled = stems[0, k] * 10 ** (float(gains[0, k]) / 20)
        assert loudness_lufs(levelled[None], SR) == pytest.approx(-28.0, abs=0.05)
    assert float(gains[0, 1] - gains[0, 0]) == pytest.approx(40.0, abs=0.5)


def test_loudness_leaves_a_silent_stem_alone():
    stems = torch.stack([noise(SR, seed=1), torch.zeros(SR)])[None]
    gains = make("loudness").gains_db(stems, torch.ones(1, 2, dtype=torch.bool), SR)
    assert float(gains[0, 1]) == 0.0 and float(gains[0, 0]) != 0.0


def test_random_is_seeded_and_stays_in_the_declared_ranges():
    stems = noise(1, 6, 2000)
    first, again, other = make("random", seed=4), make("random", seed=4), make("random", seed=5)
    torch.testing.assert_close(first(stems, None, SR), again(stems, None, SR))
    assert not torch.allclose(first(stems, None, SR), other(stems, None, SR))
    draws = make("random", gain_db=(-6.0, 3.0)).draw(500)
    columns = [slot.spec.name for slot in make("random").chain.layout]
    gain, pan = draws[:, columns.index("gain_db")], draws[:, columns.index("pan")]
    assert gain.min() >= -6.0 and gain.max() <= 3.0 and gain.max() - gain.min() > 7.0
    assert pan.min() >= -1.0 and pan.max() <= 1.0 and pan.min() < -0.8 and pan.max() > 0.8


def test_a_random_gain_range_outside_the_fader_is_refused():
    with pytest.raises(ValueError, match="widen"):
        make("random", gain_db=(30.0, 40.0))


def test_chunked_inference_equals_one_pass_for_a_sample_wise_mixer():
    class ChunkedMono(MonoMixer):
        chunk_seconds = 0.3

    stems = noise(3, SR)
    whole = MonoMixer()(stems[None], None, SR)[0]
    torch.testing.assert_close(mix_whole_song(ChunkedMono(), stems, SR), whole)


def test_wave_u_net_saves_and_loads_back_equal(tmp_path):
    mixer = make("wave-u-net")
    mixer.save(tmp_path / "mixer.pt")
    loaded = load_mixer(tmp_path / "mixer.pt")
    stems = noise(1, 3, 1000)
    assert loaded.options() == mixer.options()
    torch.testing.assert_close(loaded(stems, None, SR), mixer(stems, None, SR))


def test_wave_u_net_has_finite_gradients():
    mixer = make("wave-u-net")
    stems = noise(2, 3, 1024).requires_grad_()
    mask = torch.tensor([[True, True, False], [True, True, True]])
    mixer(stems, mask, SR).square().mean().backward()
    grads = [p.grad for p in mixer.parameters()] + [stems.grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)


def test_a_mixer_without_weights_cannot_be_trained():
    with pytest.raises(ConsoleError, match="no weights"):
        MixerTask(make("mono"), StereoSTFTLoss(), SR)


def _panned_examples(count: int) -> list[Example]:
    """Songs whose reference pans stem 0 left and stem 1 right at fixed levels."""
    examples = []
    for i in range(count):
        stems = noise(2, 2048, seed=100 + i, level=0.2)
        mix = torch.stack([0.8 * stems[0] + 0.2 * stems[1], 0.2 * stems[0] + 0.8 * stems[1]])
        examples.append(Example(stems, mix, ("a", "b"), ("other", "other"), f"s{i}", 0))
    return examples


@pytest.mark.slow
def test_wave_u_net_trains_with_the_shared_trainer_and_lowers_its_loss(tmp_path):
    torch.manual_seed(0)
    loss = StereoSTFTLoss(fft_sizes=(256, 512), hop_sizes=(64, 128), win_lengths=(256, 512))
    task = MixerTask(create_mixer("wave-u-net", **TINY_UNET), loss, SR)
    examples = _panned_examples(8)
    batch = collate_examples(examples)
    with torch.no_grad():
        before = float(task.loss(task.model, batch))
    config = TrainConfig(steps=12, batch_size=4, lr=1e-2, warmup_steps=0, val_every=1000,
                         checkpoint_every=1000, schedule="constant")
    Trainer(task, examples, collate_examples, config, tmp_path, progress=False).fit()
    with torch.no_grad():
        after = float(task.loss(task.model, batch))
    assert after < 0.7 * before
    assert load_mixer(tmp_path / "mixer.pt").options() == task.model.options()


def test_a_third_party_mixer_registers_through_the_hook():
    from console.hookspecs import hookimpl

    class Silent(MonoMixer):
        name = "silent"
        description = "Mixes nothing."

        def mix(self, stems, mask, sample_rate):
            return stems.new_zeros(stems.shape[0], 2, stems.shape[2])

    class Plugin:
        @hookimpl
        def register_mixers(self, register):
            register(Silent)

    plugins = get_plugins()
    with plugins.temporary(Plugin()):
        mixer = create_mixer("silent", plugins)
        assert isinstance(mixer, Silent)
        assert not mixer(noise(1, 2, 100), None, SR).any()
    with pytest.raises(ConsoleError, match="No mixer named 'silent'"):
        create_mixer("silent", plugins)
