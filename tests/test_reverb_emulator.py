"""The reverb emulator (``console_effects.reverb_emulator``), its kernel and its reference."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import console.losses.plugin
import console_encoders.plugin
from console import Console, hookimpl
from console.errors import CheckpointError
from console.plugins import Plugins
from console_effects.functional.freeverb import delays, freeverb
from console_effects.gain import Gain
from console_effects.pan import Pan
from console_effects.references import (
    FREEVERB_DAMPINGS,
    FREEVERB_ROOM_SIZES,
    FREEVERB_RT60,
    freeverb_rt60,
    freeverb_settings,
    pedalboard_available,
)
from console_effects.reverb import Reverb
from console_effects.reverb_emulator import (
    EMULATOR_FORMAT,
    EMULATOR_FORMAT_VERSION,
    FreeverbConfig,
    ReverbEmulator,
    band_rt60,
)
from tests.conftest import TINY_VGGISH

SR = 44100
needs_pedalboard = pytest.mark.skipif(not pedalboard_available(),
                                      reason="pedalboard (the optional extra) is not installed")


def settings(decay_s=1.0, predelay_ms=0.0, brightness=0.5, width=0.7, mix=1.0, rows=1):
    return torch.tensor([[decay_s, predelay_ms, brightness, width, mix]] * rows)


@pytest.fixture(scope="module")
def untrained():
    return ReverbEmulator(config=FreeverbConfig()).requires_grad_(False)


@pytest.fixture(scope="module")
def shipped():
    return ReverbEmulator()


# -- the reference and its mapping --------------------------------------------------------------


def test_the_measured_table_is_monotone_and_inverts():
    table = np.asarray(FREEVERB_RT60)
    assert table.shape == (len(FREEVERB_DAMPINGS), len(FREEVERB_ROOM_SIZES))
    assert (np.diff(table, axis=1) > 0).all()  # longer with the room size, at every damping
    for room in (0.1, 0.5, 0.93):
        for damping in (0.0, 0.4, 1.0):
            s = freeverb_settings(freeverb_rt60(room, damping), 1.0 - damping, 0.5)
            assert s["room_size"] == pytest.approx(room, abs=1e-9)
            assert s["damping"] == pytest.approx(damping)
    # Freeverb cannot ring shorter than its smallest room: such decays hold room size 0.
    assert freeverb_settings(0.2, 1.0, 1.0)["room_size"] == 0.0
    assert freeverb_settings(0.2, 0.3, 2.0) == {"room_size": 0.0, "damping": 0.7, "width": 1.0}


@needs_pedalboard
@pytest.mark.parametrize("decay_s", [0.8, 2.0, 5.0])
@pytest.mark.parametrize("brightness", [1.0, 0.0])
def test_the_mapping_gives_the_rt60_it_promises_on_pedalboard(decay_s, brightness):
    from console_effects.references import freeverb_impulse_response

    ir = freeverb_impulse_response(**freeverb_settings(decay_s, brightness, 1.0), sample_rate=SR)
    assert band_rt60(ir, SR) == pytest.approx(decay_s, rel=0.04)


@needs_pedalboard
def test_the_reference_is_wet_only_normalised_delayed_and_mixed_exactly():
    reference = ReverbEmulator.reference("pedalboard")
    x = np.random.default_rng(0).standard_normal(SR // 2).astype(np.float32) * 0.1
    dry = reference(x, np.array([2.0, 10.0, 0.5, 0.7, 0.0], np.float32))
    assert dry.shape == (2, x.size) and np.array_equal(dry, np.stack([x, x]))
    impulse = np.zeros(3 * SR, np.float32)
    impulse[0] = 1.0
    wet = reference(impulse, np.array([1.0, 20.0, 0.5, 0.7, 1.0], np.float32))
    assert np.abs(wet[:, :882]).max() == 0.0  # 20 ms of pre-delay: 882 samples of silence
    assert np.square(wet, dtype=np.float64).sum(axis=1).mean() == pytest.approx(1.0, rel=0.01)
    half = reference(impulse, np.array([1.0, 20.0, 0.5, 0.7, 0.5], np.float32))
    expected = 0.5 * np.stack([impulse, impulse]) + 0.5 * wet
    np.testing.assert_allclose(half, expected, atol=1e-6)


# -- the kernel ---------------------------------------------------------------------------------


@needs_pedalboard
@pytest.mark.parametrize(("room", "damping", "width"), [(0.5, 0.5, 1.0), (0.95, 0.1, 0.3),
                                                        (0.0, 1.0, 0.0)])
def test_the_kernel_with_freeverbs_own_settings_is_pedalboard(room, damping, width):
    import pedalboard

    x = np.random.default_rng(1).standard_normal(SR).astype(np.float32) * 0.1
    board = pedalboard.Reverb(room_size=room, damping=damping, width=width, wet_level=1 / 3,
                              dry_level=0.0)
    expected = board(np.stack([x, x]), SR, reset=True)
    # JUCE: feedback 0.7 + 0.28 room, damping 0.4 d, input gain 0.015 on L + R, wet1/wet2.
    feedback = torch.full((1, 2, 8), float(np.float32(0.7 + 0.28 * room)), dtype=torch.float64)
    damp = torch.full((1, 2, 8), float(np.float32(0.4 * damping)), dtype=torch.float64)
    wet1, wet2 = 0.5 * (1 + width) * 0.03, 0.5 * (1 - width) * 0.03
    matrix = torch.tensor([[[wet1, wet2], [wet2, wet1]]], dtype=torch.float64)
    out = freeverb(torch.from_numpy(x)[None, None], feedback, damp, matrix, torch.zeros(1),
                   torch.zeros(1), SR)
    np.testing.assert_allclose(out[0].numpy(), expected, atol=2e-6)


@pytest.mark.parametrize("channels", [1, 2])
def test_the_kernels_backward_pass_is_the_exact_gradient(channels):
    torch.manual_seed(0)
    rate = 8000  # short delay lines, so a short signal goes round the loops
    x = torch.randn(2, channels, 500, dtype=torch.float64, requires_grad=True)
    feedback = (torch.rand(2, 2, 8, dtype=torch.float64) * 0.3 + 0.6).requires_grad_()
    damping = (torch.rand(2, 2, 8, dtype=torch.float64) * 0.5).requires_grad_()
    matrix = torch.randn(2, 2, 2, dtype=torch.float64, requires_grad=True)
    dry = torch.rand(2, dtype=torch.float64, requires_grad=True)
    delay = torch.tensor([0.0, 13.0], dtype=torch.float64)
    assert torch.autograd.gradcheck(
        lambda *args: freeverb(*args[:4], delay, args[4], rate),
        (x, feedback, damping, matrix, dry), eps=1e-6, atol=1e-6,
    )


def test_the_delays_gradient_is_that_of_a_true_delay():
    rate = 8000
    t = torch.arange(2000, dtype=torch.float64)
    x = torch.sin(2 * math.pi * t / 200)[None, None]
    feedback = torch.full((1, 2, 8), 0.8, dtype=torch.float64)
    damping = torch.full((1, 2, 8), 0.2, dtype=torch.float64)
    matrix = torch.eye(2, dtype=torch.float64)[None]
    weights = torch.randn(1, 2, 2000, dtype=torch.float64,
                          generator=torch.Generator().manual_seed(3))
    zero = torch.zeros(1, dtype=torch.float64)

    def loss(delay):
        return (freeverb(x, feedback, damping, matrix, delay, zero, rate) * weights).sum()

    delay = torch.tensor([20.0], dtype=torch.float64, requires_grad=True)
    loss(delay).backward()
    finite = (loss(torch.tensor([21.0])) - loss(torch.tensor([19.0]))) / 2
    assert float(delay.grad) == pytest.approx(float(finite), rel=1e-3)


def test_delays_scale_with_the_rate_as_in_juce():
    comb, allpass = delays(44100)
    assert comb[0].tolist() == [1116, 1188, 1277, 1356, 1422, 1491, 1557, 1617]
    assert (comb[1] - comb[0]).tolist() == [23] * 8 and allpass[0].tolist() == [556, 441, 341, 225]
    assert delays(22050)[0][0, 0] == 558


# -- the effect ---------------------------------------------------------------------------------


def test_it_keeps_the_settings_of_reverb_dsp(untrained):
    same = [(p.name, p.unit, p.minimum, p.maximum, p.default, p.scale) for p in Reverb.params]
    assert [(p.name, p.unit, p.minimum, p.maximum, p.default, p.scale)
            for p in ReverbEmulator.params] == same
    assert ReverbEmulator.name == "reverb:greybox" and ReverbEmulator.family == "reverb"
    assert untrained.receptive_field_s == math.inf


def test_mono_and_stereo_in_stereo_out(untrained):
    x = torch.randn(3, 1, SR // 4) * 0.1
    p = untrained.default_params(3)
    assert untrained(x, p, SR).shape == (3, 2, SR // 4)
    stereo = x.expand(-1, 2, -1).contiguous()
    # A stereo input is summed to mono for the reverb, as Freeverb does: (x, x) is mono x.
    torch.testing.assert_close(untrained(stereo, p, SR), untrained(x, p, SR))
    with pytest.raises(ValueError, match="mono or stereo"):
        untrained(torch.zeros(1, 3, 100), untrained.default_params(1), SR)


@pytest.mark.parametrize("channels", [1, 2])
def test_mix_zero_is_exactly_the_dry_input(untrained, channels):
    x = torch.randn(2, channels, SR // 4) * 0.3
    p = settings(decay_s=3.0, predelay_ms=30.0, mix=0.0, rows=2)
    assert torch.equal(untrained(x, p, SR), x.expand(-1, 2, -1))


def test_the_mix_is_exact(untrained):
    x = torch.randn(1, 1, SR // 4) * 0.3
    wet = untrained(x, settings(mix=1.0), SR)
    half = untrained(x, settings(mix=0.25), SR)
    torch.testing.assert_close(half, 0.75 * x.expand(-1, 2, -1) + 0.25 * wet)


def test_the_predelay_delays_the_wet_signal(untrained):
    early = untrained.impulse_response(settings(predelay_ms=0.0), SR, length=SR // 2)
    late = untrained.impulse_response(settings(predelay_ms=50.0), SR, length=SR // 2)
    torch.testing.assert_close(late[..., 2205:], early[..., : SR // 2 - 2205])
    assert late[..., :2205].abs().max() == 0.0


@pytest.mark.parametrize("decay_s", [0.5, 1.5, 6.0])
def test_untrained_its_tail_decays_at_the_set_decay_time(untrained, decay_s):
    """Before training every comb rings decay_s: the knobs at face value."""
    ir = untrained.impulse_response(settings(decay_s=decay_s, brightness=1.0), SR)
    assert band_rt60(ir[0].numpy(), SR) == pytest.approx(decay_s, rel=0.1)
    energy = ir.double().square().sum(-1).mean()
    assert float(energy) == pytest.approx(1.0, rel=0.05)  # unit energy, as reverb:dsp


@pytest.mark.parametrize("decay_s", [0.8, 2.0, 5.0])
def test_trained_its_tail_decays_at_the_set_decay_time(shipped, decay_s):
    """The shipped weights learned Freeverb, whose mapping promises this RT60."""
    ir = shipped.impulse_response(settings(decay_s=decay_s, brightness=0.7, width=1.0), SR)
    assert band_rt60(ir[0].numpy(), SR) == pytest.approx(decay_s, rel=0.1)


def test_gradients_reach_every_setting_and_the_audio(shipped):
    x = (torch.randn(2, 1, SR // 2) * 0.1).requires_grad_()
    p = settings(decay_s=1.5, predelay_ms=12.0, brightness=0.4, width=0.6, mix=0.5,
                 rows=2).requires_grad_()
    shipped(x, p, SR).square().mean().backward()
    assert torch.isfinite(p.grad).all() and (p.grad.abs() > 0).all()
    assert x.grad.abs().sum() > 0


def test_outputs_and_gradients_are_finite_at_every_range_corner(shipped):
    import itertools

    corners = torch.tensor(list(itertools.product(
        *[(spec.minimum, spec.maximum) for spec in ReverbEmulator.params])))
    x = (torch.randn(1, 1, 8000) * 0.5).expand(len(corners), 1, -1).clone().requires_grad_()
    p = corners.clone().requires_grad_()
    y = shipped(x, p, 16000)
    assert torch.isfinite(y).all()
    y.square().mean().backward()
    assert torch.isfinite(x.grad).all() and torch.isfinite(p.grad).all()
    assert p.grad.abs().sum() > 0


def test_it_is_deterministic_and_runs_at_other_rates(shipped):
    x = torch.randn(1, 1, 22050) * 0.1
    p = settings(decay_s=2.0)
    assert torch.equal(shipped(x, p, 22050), shipped(x, p, 22050))
    ir = shipped.impulse_response(settings(decay_s=2.0, brightness=1.0), 22050)
    assert band_rt60(ir[0].numpy(), 22050) == pytest.approx(2.0, rel=0.15)


# -- checkpoints --------------------------------------------------------------------------------


def test_save_and_load_round_trip(tmp_path, shipped):
    shipped.save(tmp_path / "reverb.pt")
    again = ReverbEmulator(str(tmp_path))  # a folder holding reverb.pt
    x, p = torch.randn(1, 1, 4000) * 0.1, settings()
    assert torch.equal(again(x, p, SR), shipped(x, p, SR))
    assert not any(w.requires_grad for w in again.parameters())


def test_a_checkpoint_of_the_old_tcn_is_refused_with_what_to_do(tmp_path):
    old = {
        "format": EMULATOR_FORMAT, "format_version": EMULATOR_FORMAT_VERSION,
        "family": "reverb", "effect": "reverb:tcn",
        "params": [{"name": s.name} for s in Reverb.params], "sample_rate": 44100,
        "internal_rate": 22050,
        "config": {"num_params": 5, "out_channels": 2, "channels": 32, "kernel_size": 15,
                   "dilations": [1, 4, 16]},
        "state_dict": {"weight": torch.zeros(2)}, "info": {},
    }
    torch.save(old, tmp_path / "old.pt")
    with pytest.raises(CheckpointError, match="TCN.*reverb:tcn@.*retrain it with"):
        ReverbEmulator(str(tmp_path / "old.pt"))
    old["family"] = "eq"
    torch.save(old, tmp_path / "eq.pt")
    with pytest.raises(CheckpointError, match="emulates 'eq'"):
        ReverbEmulator(str(tmp_path / "eq.pt"))
    with pytest.raises(CheckpointError, match="does not exist"):
        ReverbEmulator(str(tmp_path / "missing.pt"))


def held_out_clips() -> list[torch.Tensor]:
    """The test split of sonic-pi-samples (never trained on), else synthetic test sessions."""
    from console.data.samples import samples_dir
    from console.training.emulator_data import audio_files, load_clips, split_of, synthetic_clips

    folder = samples_dir()
    if folder is None:
        return synthetic_clips("test", SR, seconds=3.0)
    return load_clips([p for p in audio_files(folder) if split_of(p) == "test"], SR)


@needs_pedalboard
def test_the_shipped_weights_beat_bypass_on_held_out_audio(shipped):
    """Four 1 s examples of held-out audio at random settings, against pedalboard."""
    auraloss = pytest.importorskip("auraloss")
    from console.training.emulator_data import EffectPairDataset, collate_pairs

    data = EffectPairDataset(held_out_clips(), ReverbEmulator.params,
                             ReverbEmulator.reference("pedalboard"), SR, 4, seed=99)
    batch = collate_pairs([data[i] for i in range(4)])
    stft = auraloss.freq.MultiResolutionSTFTLoss()
    with torch.no_grad():
        ours = float(stft(shipped(batch["x"], batch["params"], SR), batch["y"]))
    bypass = float(stft(batch["x"].expand(-1, 2, -1).contiguous(), batch["y"]))
    assert ours < 0.5 * bypass


def test_registered_it_is_the_default_reverb_of_a_console():
    class Effects:
        @hookimpl
        def register_effects(self, register):
            register(Gain)
            register(Pan)
            register(Reverb)
            register(ReverbEmulator, default=True)

    plugins = Plugins(autoload=False)
    for plugin in (console.losses.plugin, console_encoders.plugin, Effects()):
        plugins.register(plugin)
    assert plugins.resolve("effect", "reverb").factory is ReverbEmulator
    mixer = Console.from_spec("gain+reverb+pan", encoder="vggish",
                              encoder_options=TINY_VGGISH, hidden=16,
                              plugins=plugins)
    assert "decay_s" in [slot.spec.name for slot in mixer.layout]
    stems = torch.randn(1, 3, SR // 2) * 0.1
    result = mixer(stems, sample_rate=SR)
    assert result.mix.shape == (1, 2, SR // 2)
    result.mix.square().mean().backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in mixer.parameters())


def test_the_shortest_decay_it_rings_is_the_one_its_setting_states(shipped):
    """decay_s advertises 0.1-8 s; the grey-box cannot ring shorter than about half a second,
    and the setting says so where the user reads it (console plugins, the docs)."""
    shortest = []
    for brightness in (0.0, 1.0):
        params = torch.tensor([[0.1, 0.0, brightness, 1.0, 1.0]])
        with torch.no_grad():
            ir = shipped.impulse_response(params, SR)[0].numpy()
        shortest.append(band_rt60(ir, SR))
    assert 0.45 < min(shortest) and max(shortest) < 0.65
    decay = next(p for p in shipped.params if p.name == "decay_s")
    assert "at least about 0.5 s" in decay.description and "0.52 s" in decay.description
