"""The EQ emulator: linear TCN sections, their exact frequency response, and fitting it."""

from __future__ import annotations

import math

import pytest
import torch

from console.cli.main import main
from console.errors import CheckpointError
from console.plugins import get_plugins
from console.training.response_fit import fit_sections
from console_effects.emulator import EQEmulator
from console_effects.tcn import ConditionedTCN, TCNConfig
from tests.test_emulator import SR, tiny_config


def impulse_spectrum(process, rows: int, length: int) -> torch.Tensor:
    x = torch.zeros(rows, 1, length)
    x[:, 0, 0] = 1.0
    with torch.no_grad():
        return torch.fft.rfft(process(x)[:, 0].double(), dim=-1)


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


def test_the_eq_emulator_is_five_sections_in_series_and_starts_near_bypass():
    emulator = EQEmulator(config=tiny_config(EQEmulator))
    network = emulator.network
    assert sorted(network.sections) == ["bell", "high_shelf", "low_shelf"]
    params = torch.stack([s.sample(2, generator=torch.Generator().manual_seed(1))
                          for s in emulator.params], 1)
    normalised = emulator.normalise(params)
    length = 2048
    measured = impulse_spectrum(lambda a: network(a, normalised), 2, length)
    omega = 2 * math.pi * torch.arange(length // 2 + 1) / length
    with torch.no_grad():
        predicted = network.frequency_response(normalised, omega).to(measured.dtype)
    torch.testing.assert_close(predicted, measured, atol=1e-5, rtol=1e-4)
    x = torch.randn(2, 2, 3000)
    with torch.no_grad():
        y = emulator(x, params, SR)
    assert y.shape == x.shape
    assert float((y - x).square().mean() / x.square().mean()) < 0.5  # small output layers


@pytest.mark.slow
def test_fitting_responses_brings_every_section_closer_to_the_reference():
    torch.manual_seed(0)
    emulator = EQEmulator(config=tiny_config(EQEmulator))
    before = fit_sections(emulator, EQEmulator.reference("dsp"), steps=0, sample_rate=SR,
                          settings=48, held_out=16, progress=False, impulse_samples=4096)
    after = fit_sections(emulator, EQEmulator.reference("dsp"), steps=60, sample_rate=SR,
                         settings=48, held_out=16, progress=False, impulse_samples=4096,
                         lr=5e-3)
    errors = {b.kind: (b.db_error, a.db_error) for b, a in zip(before, after, strict=True)}
    assert all(a.bypass_db_error > 0.5 for a in after)
    for kind in ("low_shelf", "high_shelf"):  # the broad sections learn first
        assert errors[kind][1] < 0.85 * errors[kind][0], errors
    assert errors["bell"][1] <= errors["bell"][0], errors
    assert sum(e[1] for e in errors.values()) < 0.9 * sum(e[0] for e in errors.values())


@pytest.mark.slow
def test_train_emulator_fits_responses_then_loads_as_eq_tcn(tmp_path, capsys):
    out = tmp_path / "eq"
    argv = ["train-emulator", "eq", "--out", str(out), "--reference", "dsp",
            "--response-steps", "3", "--response-settings", "8", "--steps", "0",
            "--channels", "4", "--no-progress"]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "bell response within" in err and "bypass" in err
    emulator = get_plugins().resolve("effect", "eq:tcn").create(str(out))
    assert emulator.checkpoint_info["response_steps"] == 3
    assert set(emulator.checkpoint_info["response_fit_db"]) == {"low_shelf", "bell", "high_shelf"}
    # a second run reuses the fit instead of fitting again
    assert main(argv) == 0
    assert "reusing the response fit" in capsys.readouterr().err


def test_response_steps_are_refused_for_an_emulator_that_is_not_linear(tmp_path, capsys):
    code = main(["train-emulator", "comp", "--out", str(tmp_path / "c"), "--reference", "dsp",
                 "--response-steps", "5", "--steps", "1", "--no-progress"])
    assert code == 2 and "not linear" in capsys.readouterr().err


def test_an_old_non_linear_eq_checkpoint_is_refused_with_a_reason(tmp_path):
    from console_effects.emulator import TCNEmulator

    class OldEQ(EQEmulator):
        @classmethod
        def default_config(cls):
            return TCNConfig(num_params=15, channels=4, kernel_size=3, dilations=(1, 2))

        @classmethod
        def build_network(cls, config):
            return TCNEmulator.build_network(config)

    OldEQ(config=OldEQ.default_config()).save(tmp_path / "old.pt")
    with pytest.raises(CheckpointError, match="non-linear"):
        EQEmulator(tmp_path / "old.pt")


def test_the_eq_emulator_plots_its_exact_magnitude_response():
    torch.manual_seed(2)
    emulator = EQEmulator(config=tiny_config(EQEmulator))
    params = torch.stack([s.sample(1, generator=torch.Generator().manual_seed(4))
                          for s in emulator.params], 1)
    freqs, magnitude_db = emulator.frequency_response(params, SR, n_freqs=64)
    x = torch.zeros(1, 1, 4096)
    x[..., 0] = 1.0
    with torch.no_grad():
        impulse_response = emulator(x, params, SR)[0, 0].double()
    omega = 2 * math.pi * freqs.double() / SR
    dft = torch.exp(-1j * omega[:, None] * torch.arange(4096, dtype=torch.float64)) @ (
        impulse_response.to(torch.complex128)
    )
    torch.testing.assert_close(magnitude_db[0].double(), 20 * dft.abs().log10(), atol=1e-3,
                               rtol=1e-4)
    assert freqs[0] == pytest.approx(20.0) and freqs[-1] == pytest.approx(SR / 2)
