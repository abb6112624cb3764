"""The EQ emulator: learned biquad sections, exactly flat at 0 dB, their response, fitting it."""

from __future__ import annotations

import math

import pytest
import torch

from console.cli.main import main
from console.errors import CheckpointError
from console.plugins import get_plugins
from console.training.response_fit import fit_sections
from console_effects.emulator import EQEmulator, TCNEmulator
from console_effects.eq import ParametricEQ
from console_effects.tcn import ConditionedTCN, TCNConfig
from tests.test_emulator import SR, perturbed, random_settings, tiny_config


def impulse_spectrum(process, rows: int, length: int) -> torch.Tensor:
    x = torch.zeros(rows, 1, length)
    x[:, 0, 0] = 1.0
    with torch.no_grad():
        return torch.fft.rfft(process(x)[:, 0].double(), dim=-1)


def flat_settings(effect, rows: int, seed: int) -> torch.Tensor:
    """Random frequencies and Qs, every gain at 0 dB."""
    params = random_settings(effect, rows, seed).double()
    params[:, 1::3] = 0.0
    return params


def test_a_linear_tcn_is_linear_and_its_response_is_the_dft_of_its_impulse_response():
    torch.manual_seed(0)
    net = ConditionedTCN(TCNConfig(num_params=3, channels=6, kernel_size=5,
                                   dilations=(1, 4, 16), linear=True))
    settings = torch.rand(3, 3)
    x = torch.randn(3, 1, 500)
    with torch.no_grad():
        torch.testing.assert_close(net(2.5 * x, settings), 2.5 * net(x, settings))
    length = 1024  # longer than the receptive field (1 + 4 * 21 samples)
    measured = impulse_spectrum(lambda a: net(a, settings), 3, length)
    omega = 2 * math.pi * torch.arange(length // 2 + 1) / length
    with torch.no_grad():
        predicted = net.frequency_response(settings, omega)[:, 0, 0]
    torch.testing.assert_close(predicted.to(measured.dtype), measured, atol=1e-5, rtol=1e-4)
    with pytest.raises(ValueError, match="linear"):
        ConditionedTCN(TCNConfig(num_params=3)).frequency_response(settings, omega)


def test_an_untrained_eq_emulator_is_bypass_and_its_response_is_exact():
    emulator = EQEmulator(config=tiny_config(EQEmulator))
    assert sorted(emulator.network.sections) == ["bell", "high_shelf", "low_shelf"]
    params = random_settings(emulator, 2, seed=1)
    x = torch.randn(2, 2, 3000)
    with torch.no_grad():
        torch.testing.assert_close(emulator(x, params, SR), x)  # the maps start at zero
    perturbed(emulator, scale=0.3)
    normalised = emulator.normalise(params)
    length = 1 << 16  # long enough for the narrowest random band to ring out
    measured = impulse_spectrum(lambda a: emulator.network(a, normalised, SR), 2, length)
    omega = 2 * math.pi * torch.arange(length // 2 + 1, dtype=torch.float64) / length
    with torch.no_grad():
        predicted = emulator.network.frequency_response(normalised, omega, SR)
    torch.testing.assert_close(predicted, measured, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("weights", ["untrained", "perturbed", "shipped"])
def test_the_eq_set_flat_is_flat_whatever_its_weights(weights):
    """Every gain at 0 dB: within 0.1 dB from 20 Hz to 20 kHz (issue 14); in fact exact."""
    if weights == "shipped":
        emulator = EQEmulator()
    else:
        emulator = EQEmulator(config=tiny_config(EQEmulator))
        if weights == "perturbed":
            perturbed(emulator, scale=1.0, seed=7)
    params = flat_settings(emulator, 32, seed=2)
    for rate in (44100, 48000):
        freqs, magnitude_db = emulator.frequency_response(params, rate, n_freqs=2048)
        audible = freqs <= 20000.0
        assert magnitude_db[:, audible].abs().max() < 1e-6
    x = torch.randn(32, 1, 4000, dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(emulator(x, params, SR), x, atol=1e-9, rtol=1e-9)


def test_the_shipped_eq_has_the_reference_response():
    """pedalboard's shelves and peak filters are the cookbook's, as are ``eq:dsp``'s."""
    emulator, dsp = EQEmulator(), ParametricEQ()
    params = random_settings(emulator, 64, seed=3).double()
    for rate in (44100, 48000):  # trained at 44.1 kHz; its sections are designed per rate
        _, ours = emulator.frequency_response(params, rate)
        _, theirs = dsp.frequency_response(params, rate)
        error = (ours - theirs).abs()
        assert error.mean() < 0.02 and error.max() < 0.5, (error.mean(), error.max())
    settings = [  # a few settings by hand: a boost, a cut, a narrow low bell, a steep shelf
        {"band1_freq_hz": 250.0, "band1_gain_db": 12.0, "band1_q": 1.0},
        {"band2_freq_hz": 3000.0, "band2_gain_db": -18.0, "band2_q": 4.0},
        {"band1_freq_hz": 30.0, "band1_gain_db": 9.0, "band1_q": 8.0},
        {"high_shelf_freq_hz": 6000.0, "high_shelf_gain_db": -12.0, "high_shelf_q": 1.5},
        {"low_shelf_freq_hz": 80.0, "low_shelf_gain_db": 24.0, "low_shelf_q": 0.5},
    ]
    names = [spec.name for spec in dsp.params]
    rows = dsp.default_params(len(settings)).double()
    rows[:, 1::3] = 0.0
    for row, values in zip(rows, settings, strict=True):
        for name, value in values.items():
            row[names.index(name)] = value
    _, ours = emulator.frequency_response(rows, SR)
    _, theirs = dsp.frequency_response(rows, SR)
    assert (ours - theirs).abs().max() < 0.1


def test_gradients_reach_every_setting_of_the_eq_emulator():
    emulator = EQEmulator()
    params = random_settings(emulator, 3, seed=4).requires_grad_(True)
    x = (0.3 * torch.randn(3, 1, 6000)).requires_grad_(True)
    emulator(x, params, SR).square().mean().backward()
    assert torch.isfinite(params.grad).all() and (params.grad.abs().sum(0) > 0).all()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


@pytest.mark.slow
def test_fitting_responses_brings_every_section_closer_to_the_reference():
    torch.manual_seed(0)
    emulator = EQEmulator(config=tiny_config(EQEmulator))
    before = fit_sections(emulator, EQEmulator.reference("dsp"), steps=0, sample_rate=SR,
                          settings=48, held_out=16, progress=False, impulse_samples=4096)
    after = fit_sections(emulator, EQEmulator.reference("dsp"), steps=60, sample_rate=SR,
                         settings=48, held_out=16, progress=False, impulse_samples=4096,
                         lr=2e-2)
    assert all(a.bypass_db_error > 0.5 for a in after)
    for start, end in zip(before, after, strict=True):
        assert start.db_error == pytest.approx(start.bypass_db_error)  # untrained: bypass
        assert end.db_error < 0.7 * start.db_error, (start, end)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["eq:greybox", "eq:tcn"])
def test_train_emulator_fits_responses_then_loads_as_eq_tcn(tmp_path, capsys, name):
    """Both EQs are linear: their sections are fitted to responses before any audio."""
    out = tmp_path / "eq"
    argv = ["train-emulator", name, "--out", str(out), "--reference", "dsp",
            "--response-steps", "3", "--response-settings", "8", "--steps", "0",
            "--channels", "4", "--no-progress"]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "bell response within" in err and "bypass" in err
    emulator = get_plugins().resolve("effect", name).create(str(out))
    assert emulator.checkpoint_info["response_steps"] == 3
    assert set(emulator.checkpoint_info["response_fit_db"]) == {"low_shelf", "bell", "high_shelf"}
    assert emulator.network.config.channels == 4
    # a second run reuses the fit instead of fitting again
    assert main(argv) == 0
    assert "reusing the response fit" in capsys.readouterr().err


def test_response_steps_are_refused_for_an_emulator_that_is_not_linear(tmp_path, capsys):
    code = main(["train-emulator", "comp", "--out", str(tmp_path / "c"), "--reference", "dsp",
                 "--response-steps", "5", "--steps", "1", "--no-progress"])
    assert code == 2 and "not linear" in capsys.readouterr().err


def test_an_old_tcn_eq_checkpoint_is_refused_with_what_to_do(tmp_path):
    """Weights of the TCN that eq:tcn was before (a config without a network kind)."""

    class OldEQ(TCNEmulator):
        name, family, dsp_reference, params = "eq:tcn", "eq", "eq:dsp", ParametricEQ.params

        @classmethod
        def default_config(cls):
            return TCNConfig(num_params=3, channels=4, kernel_size=3, dilations=(1, 2),
                             linear=True)

        @classmethod
        def build_network(cls, config):
            return ConditionedTCN(config)

    OldEQ(config=OldEQ.default_config()).save(tmp_path / "old.pt")
    with pytest.raises(CheckpointError, match="holds a TCN") as error:
        EQEmulator(tmp_path / "old.pt")
    assert "eq:tcn@" in str(error.value) and "console train-emulator eq" in str(error.value)
    # nor does today's eq:tcn (sections in series) take that whole-EQ network
    with pytest.raises(CheckpointError, match="do not fit eq:tcn"):
        get_plugins().resolve("effect", "eq:tcn").factory(tmp_path / "old.pt")


def test_the_eq_emulator_plots_its_exact_magnitude_response():
    emulator = perturbed(EQEmulator(config=tiny_config(EQEmulator)), scale=0.3, seed=2)
    params = random_settings(emulator, 1, seed=4)
    freqs, magnitude_db = emulator.frequency_response(params, SR, n_freqs=64)
    x = torch.zeros(1, 1, 1 << 16)
    x[..., 0] = 1.0
    with torch.no_grad():
        impulse_response = emulator(x.double(), params.double(), SR)[0, 0]
    omega = 2 * math.pi * freqs.double() / SR
    dft = torch.exp(-1j * omega[:, None] * torch.arange(1 << 16, dtype=torch.float64)) @ (
        impulse_response.to(torch.complex128)
    )
    torch.testing.assert_close(magnitude_db[0].double(), 20 * dft.abs().log10(), atol=1e-3,
                               rtol=1e-4)
    assert freqs[0] == pytest.approx(20.0) and freqs[-1] == pytest.approx(SR / 2)
