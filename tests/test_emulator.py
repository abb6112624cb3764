"""Neural emulators: shipped weights beat bypass, gradients reach the settings, clear errors.

The grey-box compressor's own tests are here too (the EQ's are in test_eq_emulator.py).
"""

from __future__ import annotations

import binascii
import json
import math

import attrs
import numpy as np
import pytest
import torch

from console import Console
from console.chain import EffectChain
from console.errors import CheckpointError
from console.plugins import get_plugins
from console.training.emulator_data import EffectPairDataset, split_of
from console.training.emulator_metrics import compare_on
from console_effects.compressor import Compressor
from console_effects.emulator import (
    GREYBOX_EMULATORS,
    CompressorEmulator,
    ReverbEmulator,
    TCNEmulator,
)
from console_effects.functional.compressor import compress
from console_effects.greybox import GreyBoxConfig
from console_effects.reverb import Reverb
from console_effects.reverb_emulator import FreeverbConfig
from console_effects.tcn import ConditionedTCN, TCNConfig
from console_effects.tcn_emulators import TCN_EMULATORS, ReverbTCN
from tests.conftest import TINY_VGGISH

SR = 44100


def procedural_clips(count: int, seconds: float, seed: int) -> list[torch.Tensor]:
    """Drum-like hits, plucked tones and noise swells: held-out audio that needs no samples."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    clips = []
    for _ in range(count):
        audio = np.zeros_like(t)
        for onset in np.sort(rng.uniform(0, seconds * 0.8, size=int(rng.integers(3, 7)))):
            since = np.clip(t - onset, 0, None) * (t >= onset)
            pitch = rng.uniform(60, 900)
            envelope = np.exp(-since * rng.uniform(4, 30)) * (t >= onset)
            tone = np.sin(2 * np.pi * pitch * since) + 0.3 * np.sin(4 * np.pi * pitch * since)
            audio += envelope * (tone + rng.uniform(0, 1) * rng.standard_normal(t.shape))
        clips.append(torch.from_numpy((audio / np.abs(audio).max()).astype(np.float32)))
    return clips


def tiny_config(emulator: type, **changes) -> TCNConfig | GreyBoxConfig:
    """A small network of the emulator's kind: narrow, and for a TCN short."""
    base = emulator.default_config()
    if isinstance(base, GreyBoxConfig):
        return attrs.evolve(base, **{"channels": 8, **changes})
    config = {**base.to_dict(), "channels": 8, "kernel_size": 5, "dilations": (1, 4, 16)}
    return TCNConfig(**{**config, **changes})


def perturbed(emulator, scale: float = 0.5, seed: int = 0):
    """``emulator`` with every weight moved at random: properties that hold for any weights."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in emulator.network.parameters():
            p.add_(scale * torch.randn(p.shape, generator=generator))
    return emulator


def test_receptive_field_is_stated_and_every_length_runs():
    config = TCNConfig(num_params=2, kernel_size=3, dilations=(1, 2, 4))
    assert config.receptive_field == 1 + 2 * 7
    net = ConditionedTCN(config)
    for length in (1, 37, 1000):
        assert net(torch.randn(2, 1, length), torch.rand(2, 2)).shape == (2, 1, length)
    # causal: changing the future leaves the past alone
    x = torch.randn(1, 1, 200)
    y = x.clone()
    y[..., 150:] = 0
    cond = torch.rand(1, 2)
    torch.testing.assert_close(net(x, cond)[..., :150], net(y, cond)[..., :150])


def ranges(params) -> list[tuple]:
    return [(p.name, p.unit, p.minimum, p.maximum, p.default, p.scale) for p in params]


def test_emulators_declare_the_settings_of_their_dsp_variants():
    registry = get_plugins().registry("effect")
    for emulator in (*GREYBOX_EMULATORS, *TCN_EMULATORS):
        dsp = registry[emulator.dsp_reference].factory
        assert ranges(emulator.params) == ranges(dsp.params)  # params files render with either
    assert ranges(ReverbEmulator.params) == ranges(Reverb.params)
    assert get_plugins().resolve("effect", "eq").name == "eq:greybox"
    assert get_plugins().resolve("effect", "comp").name == "comp:greybox"
    assert get_plugins().resolve("effect", "reverb").name == "reverb:greybox"


def test_every_tcn_is_a_tcn_and_every_greybox_says_so():
    """The names say what the networks are: `:tcn` a conditioned TCN, `:greybox` a grey-box."""
    registry = get_plugins().registry("effect")
    for family in ("eq", "comp", "reverb"):
        tcn, greybox = registry[f"{family}:tcn"].factory, registry[f"{family}:greybox"].factory
        assert issubclass(tcn, TCNEmulator) and not issubclass(greybox, TCNEmulator)
        assert isinstance(tcn.default_config(), TCNConfig)
        assert "TCN" in tcn.description and "grey-box" in greybox.description.lower()


def test_the_reverb_emulators_say_where_their_decay_stops():
    for emulator in (ReverbEmulator, ReverbTCN):
        decay = next(p for p in emulator.params if p.name == "decay_s")
        assert "at least about 0.5 s" in decay.description


def test_the_reverb_tcn_rings_as_long_as_its_setting_says_it_does():
    """Its shipped weights ring about the same whatever decay_s says; the setting says so."""
    from console_effects.reverb_emulator import band_rt60
    from console_effects.tcn_emulators import SHIPPED_TCN_RT60_S

    tcn = ReverbTCN()
    impulse = torch.zeros(1, 1, 3 * SR)
    impulse[..., 0] = 1.0
    for decay in (0.3, 1.5, 3.0):
        params = torch.tensor([[decay, 0.0, 1.0, 1.0, 1.0]])
        with torch.no_grad():
            ir = tcn.wet(impulse, params, SR)[0].numpy()
        assert band_rt60(ir, SR) == pytest.approx(SHIPPED_TCN_RT60_S, abs=0.05)
    decay_spec = next(p for p in tcn.params if p.name == "decay_s")
    assert f"about {SHIPPED_TCN_RT60_S:g} s whatever it says" in decay_spec.description


@pytest.mark.slow
@pytest.mark.parametrize("family", ["eq", "comp", "reverb"])
def test_shipped_weights_beat_bypass_on_held_out_audio(family):
    emulator = get_plugins().resolve("effect", family).create()
    pytest.importorskip("pedalboard")  # every shipped emulator learnt a pedalboard effect
    reference = type(emulator).reference("auto")
    seconds = 1.0 if family == "comp" else 2.0
    data = EffectPairDataset(
        procedural_clips(6, seconds, seed=7), emulator.params, reference,
        int(seconds * SR), 8, seed=3,
    )
    scores = compare_on(data, {"emulator": emulator, "bypass": None}, SR, batch_size=4)
    # measured on these examples: eq 0.002, comp 0.001, reverb 0.019 of bypass's error
    margin = {"eq": 0.05, "comp": 0.05, "reverb": 0.05}[family]
    assert scores["emulator"].mrstft < margin * scores["bypass"].mrstft


@pytest.mark.slow
@pytest.mark.parametrize("family", ["eq", "comp", "reverb"])
def test_the_shipped_tcns_beat_bypass_on_held_out_audio(family):
    """The paper's TCNs on procedural audio they never heard (the reverb's wet signal alone).

    Measured on these examples: eq 0.37, comp 0.22, reverb 0.48 of bypass's MR-STFT error
    (on the test files, their cards say 0.33, 0.33 and 0.67).
    """
    emulator = get_plugins().resolve("effect", f"{family}:tcn").create()
    pytest.importorskip("pedalboard")  # every shipped emulator learnt a pedalboard effect
    kind = type(emulator)
    seconds = 1.0 if family == "comp" else 2.0
    data = EffectPairDataset(
        procedural_clips(6, seconds, seed=7), emulator.params, kind.reference("auto"),
        int(seconds * SR), 8, seed=3, fixed=kind.training_settings,
    )
    scores = compare_on(data, {"emulator": emulator, "bypass": None}, SR, batch_size=4)
    margin = {"eq": 0.5, "comp": 0.5, "reverb": 0.6}[family]
    assert scores["emulator"].mrstft < margin * scores["bypass"].mrstft


@pytest.mark.parametrize("family", ["eq", "comp", "eq:tcn", "comp:tcn", "reverb:tcn"])
def test_gradients_flow_through_a_frozen_emulator_to_its_settings(family):
    emulator = get_plugins().resolve("effect", family).create()
    assert not any(p.requires_grad for p in emulator.parameters())
    x = (0.5 * torch.randn(2, 1, 8000)).requires_grad_(True)
    params = torch.stack([spec.sample(2, torch.Generator().manual_seed(0))
                          for spec in emulator.params], 1).requires_grad_(True)
    emulator(x, params, SR).square().mean().backward()
    assert torch.isfinite(params.grad).all() and params.grad[:, :4].abs().sum() > 0
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    assert all(p.grad is None for p in emulator.parameters())


def test_the_paper_chain_builds_with_the_emulators_and_runs_at_another_rate():
    torch.manual_seed(0)
    console = Console.from_spec("gain+eq+comp+reverb+pan", encoder="vggish",
                                encoder_options=TINY_VGGISH)
    assert console.spec == "gain+eq:greybox+comp:greybox+reverb:greybox+pan"
    out = console(0.1 * torch.randn(1, 2, 16000), sample_rate=16000)
    assert out.mix.shape == (1, 2, 16000) and torch.isfinite(out.mix).all()


def test_the_papers_chain_of_tcns_builds_and_runs_at_another_rate():
    torch.manual_seed(0)
    console = Console.from_spec("gain+eq:tcn+comp:tcn+reverb:tcn+pan", encoder="vggish",
                                encoder_options=TINY_VGGISH)
    out = console(0.1 * torch.randn(1, 2, 8000), sample_rate=16000)
    assert out.mix.shape == (1, 2, 8000) and torch.isfinite(out.mix).all()


def test_checkpoint_errors_say_what_to_do(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        EffectChain.from_spec(f"gain+comp:tcn@{tmp_path / 'missing.pt'}")
    with pytest.raises(CheckpointError, match="holds no emulator checkpoint"):
        CompressorEmulator(tmp_path)
    ReverbEmulator(config=FreeverbConfig()).save(tmp_path / "reverb.pt")
    with pytest.raises(CheckpointError, match="reverb:greybox@"):
        CompressorEmulator(tmp_path / "reverb.pt")
    torch.save({"something": 1}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not an emulator checkpoint"):
        CompressorEmulator(tmp_path / "other.pt")


def test_files_are_split_by_name_alone_as_documented(tmp_path):
    names = [f"clip_{i:03d}.flac" for i in range(200)]
    splits = [split_of(name) for name in names]
    # The documented rule, computed independently: CRC-32 of the file name, in tenths. Being
    # CRC-32, it is the same in every process (Python's salted str hash would not be).
    buckets = [binascii.crc32(name.encode("utf-8")) % 10 for name in names]
    assert splits == ["test" if b == 0 else "validation" if b == 1 else "train" for b in buckets]
    assert splits == [split_of(tmp_path / "another" / name) for name in names]  # folder: no
    assert {"train", "validation", "test"} == set(splits)
    assert 0.7 < splits.count("train") / len(splits) < 0.9


def random_settings(effect, rows: int, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.stack([s.sample(rows, generator=generator) for s in effect.params], 1)


def test_the_compressor_at_ratio_1_is_its_make_up_gain_whatever_the_weights():
    comp = perturbed(CompressorEmulator(config=tiny_config(CompressorEmulator)), seed=3)
    params = random_settings(comp, 4, seed=1)
    params[:, 1] = 1.0  # ratio
    x = 0.5 * torch.randn(4, 2, 6000)
    with torch.no_grad():
        y = comp(x, params, SR)
    makeup = 10.0 ** (params[:, 5] / 20.0)
    torch.testing.assert_close(y, x * makeup[:, None, None], rtol=1e-5, atol=1e-6)
    # and it never raises the level above the make-up gain at any ratio
    params[:, 1] = torch.tensor([2.0, 4.0, 10.0, 20.0])
    with torch.no_grad():
        y = comp(x, params, SR)
    assert (y.abs() <= x.abs() * makeup[:, None, None] * (1 + 1e-5) + 1e-7).all()


def test_a_stereo_track_is_compressed_by_one_linked_detector():
    """Both sides get the gain of the louder one, so the image holds still (a mono track,
    or the two identical sides of one, as before)."""
    comp = perturbed(CompressorEmulator(config=tiny_config(CompressorEmulator)), seed=4)
    params = random_settings(comp, 1, seed=2)
    x = 0.3 * torch.randn(1, 2, 5000)
    x[:, 1] *= 0.1
    with torch.no_grad():
        both = comp(x, params, SR)
        left = comp(x[:, :1], params, SR)
        twice = comp(x[:, :1].expand(-1, 2, -1), params, SR)
        p = comp.network.inner_settings(comp.normalise(params))
        linked = compress(x, *(p[name] for name in comp.network.names), SR, "exponential",
                          stereo_link=True)
    torch.testing.assert_close(both, linked)
    torch.testing.assert_close(twice[:, :1], left)
    torch.testing.assert_close(both[:, 1] / x[:, 1], both[:, 0] / x[:, 0], rtol=1e-4, atol=1e-4)


def test_the_shipped_compressor_reads_its_knobs_as_pedalboard_does():
    """JUCE's (pedalboard's) compressor: hard knee, times 1 / (2 pi) of a time constant.

    ``comp:dsp`` with ``time_constant="juce"``, a hard knee and no stereo link is
    that compressor (tests/test_comp_dsp.py); the shipped emulator learnt pedalboard
    and should have found the same reading, and sound like it.
    """
    comp = CompressorEmulator()
    params = random_settings(comp, 16, seed=5)
    inner = comp.inner_settings(params)
    torch.testing.assert_close(inner["threshold_db"], params[:, 0], atol=0.5, rtol=0)
    torch.testing.assert_close(inner["ratio"], params[:, 1], rtol=0.05, atol=0)
    for i, name in ((2, "attack_ms"), (3, "release_ms")):
        torch.testing.assert_close(inner[name], params[:, i] / (2 * math.pi), rtol=0.15, atol=0)
    # a hard knee where it matters: it is left softer (up to ~6 dB) only where the threshold
    # is so low that the training audio (peaks -36..-1 dBFS) rarely sits near it
    knees = comp.inner_settings(random_settings(comp, 2000, seed=9))["knee_db"]
    assert knees.mean() < 1.0 and (knees < 0.5).float().mean() > 0.7  # the knob's mean is 12
    juce = Compressor(time_constant="juce", stereo_link=False)
    hard = params.clone()
    hard[:, 4] = 0.0
    clips = procedural_clips(16, 1.0, seed=11)
    x = torch.stack(clips)[:, None] * 10.0 ** (torch.linspace(-30, -1, 16) / 20.0)[:, None, None]
    with torch.no_grad():
        ours, theirs = comp(x, params, SR), juce(x, hard, SR)
    error = (ours - theirs).square().sum() / theirs.square().sum()
    assert float(-10 * torch.log10(error)) > 30.0  # SNR in dB


def test_an_old_tcn_compressor_checkpoint_is_refused_with_what_to_do(tmp_path):
    """Weights of the TCN that comp:tcn was before (a config without a network kind)."""
    from console_effects.emulator import TCNEmulator

    class OldCompressor(TCNEmulator):
        name, family, dsp_reference, params = "comp:tcn", "comp", "comp:dsp", Compressor.params

        @classmethod
        def default_config(cls):
            return TCNConfig(num_params=6, channels=4, kernel_size=3, dilations=(1, 2))

    OldCompressor(config=OldCompressor.default_config()).save(tmp_path / "old.pt")
    with pytest.raises(CheckpointError, match="holds a TCN") as error:
        CompressorEmulator(tmp_path / "old.pt")
    assert "console train-emulator comp" in str(error.value)


def test_files_that_named_the_grey_boxes_tcn_load_as_grey_boxes(tmp_path):
    """An emulator checkpoint records its network: `comp:tcn@DIR` of a grey-box's loads as one,
    `comp:greybox@FILE` of a TCN's as a TCN."""
    CompressorEmulator(config=tiny_config(CompressorEmulator)).save(tmp_path / "grey" / "best.pt")
    chain = EffectChain.from_spec(f"gain+comp:tcn@{tmp_path / 'grey'}+pan")
    assert isinstance(chain.effects[1], CompressorEmulator)
    assert chain.spec == f"gain+comp:greybox@{tmp_path / 'grey'}+pan"
    tcn_class = get_plugins().resolve("effect", "comp:tcn").factory
    tcn_class(config=tiny_config(tcn_class)).save(tmp_path / "tcn.pt")
    chain = EffectChain.from_spec(f"comp:greybox@{tmp_path / 'tcn.pt'}")
    assert isinstance(chain.effects[0], tcn_class)


def test_a_params_file_of_format_1_means_the_grey_boxes_by_tcn(tmp_path):
    from console.mix_params import FORMAT_VERSION, MixParams

    chain = EffectChain.from_spec("gain+eq:greybox+comp:greybox+reverb:greybox+pan")
    params = MixParams.from_tensor(chain.defaults()[None], chain.layout, ["a.wav"], chain.spec,
                                   SR)
    data = json.loads(params.to_json())
    assert data["version"] == FORMAT_VERSION == 2
    data["version"], data["spec"] = 1, "gain+eq:tcn+comp:tcn+reverb:tcn+pan"
    old = MixParams.from_json(json.dumps(data))
    assert old.spec == chain.spec and old.version == 2
    data["version"] = 2  # written today, the same names mean the TCNs
    assert MixParams.from_json(json.dumps(data)).spec == "gain+eq:tcn+comp:tcn+reverb:tcn+pan"


def test_a_console_checkpoint_that_named_the_grey_boxes_tcn_loads_them(tmp_path):
    """Detected by the weights it stored (format 1: all of them) or listed (format 2)."""
    console = Console.from_spec("gain+comp:greybox+pan", encoder="vggish",
                                encoder_options=TINY_VGGISH)
    data = console.checkpoint()
    data["spec"] = "gain+comp:tcn+pan"
    assert any(k.startswith("chain.effects.1.network") for k in data["rebuilt"]["keys"])
    assert Console.from_checkpoint(data).spec == "gain+comp:greybox+pan"
    full = {**data, "format_version": 1, "rebuilt": None,
            "state_dict": {k: v.clone() for k, v in console.state_dict().items()}}
    assert Console.from_checkpoint(full).spec == "gain+comp:greybox+pan"


def test_a_frozen_tcn_recomputes_its_blocks_for_the_same_gradients():
    """Frozen in a training console, a TCN keeps only its input (torch.utils.checkpoint)."""
    tcn_class = get_plugins().resolve("effect", "comp:tcn").factory
    frozen = perturbed(tcn_class(config=tiny_config(tcn_class)), scale=0.3, seed=5)
    frozen.requires_grad_(False)
    x = 0.3 * torch.randn(2, 1, 3000)
    params = random_settings(frozen, 2, seed=3)
    grads = []
    for trainable in (False, True):
        frozen.network.output.weight.requires_grad_(trainable)  # True: the plain path
        xs, ps = x.clone().requires_grad_(True), params.clone().requires_grad_(True)
        frozen(xs, ps, SR).square().mean().backward()
        grads.append((xs.grad, ps.grad))
    torch.testing.assert_close(grads[0], grads[1])
    assert grads[0][1][:, :5].abs().sum() > 0


@pytest.mark.parametrize("linear", [False, True])
def test_a_tcn_runs_the_same_in_pieces_and_folded(linear):
    """Without gradients a TCN runs rows and long rows in pieces (a linear one with its
    blocks folded into single convolutions): the numbers of the plain pass."""
    import console_effects.tcn as tcn

    config = TCNConfig(num_params=3, channels=4, kernel_size=3, dilations=(1, 3, 9),
                       linear=linear)
    net = perturbed_network(ConditionedTCN(config), seed=6).requires_grad_(False)
    x, cond = 0.3 * torch.randn(3, 1, 700), torch.rand(3, 3)
    plain = net._run(x, cond)
    xs, us = x.clone().requires_grad_(True), cond.clone().requires_grad_(True)
    net._run(xs, us).square().sum().backward()
    old = tcn.PIECE_SAMPLES
    try:
        for size in (64, 500, 5000):  # long rows cut in time; rows grouped; all at once
            tcn.PIECE_SAMPLES = size
            with torch.no_grad():
                torch.testing.assert_close(net(x, cond), plain, rtol=1e-5, atol=1e-6)
            # and with gradients (frozen in a training console: pieces recomputed)
            xp, up = x.clone().requires_grad_(True), cond.clone().requires_grad_(True)
            net(xp, up).square().sum().backward()
            torch.testing.assert_close((xp.grad, up.grad), (xs.grad, us.grad), rtol=1e-4,
                                       atol=1e-5)
    finally:
        tcn.PIECE_SAMPLES = old


def perturbed_network(network, seed: int):
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in network.parameters():
            p.add_(0.3 * torch.randn(p.shape, generator=generator))
    return network
