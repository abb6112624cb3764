"""The DSP parametric EQ: matches pedalboard, exact against SciPy, smooth everywhere."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from console.chain import EffectChain
from console.plugins import get_plugins
from console_effects.eq import ParametricEQ
from console_effects.functional.biquad import (
    biquad_cascade,
    high_shelf_coefficients,
    low_shelf_coefficients,
    peaking_coefficients,
)

SAMPLE_RATE = 44100
#: A real recording (a drum break) shipped by Debian's sonic-pi-samples, if installed.
REAL_RECORDING = Path("/usr/share/sonic-pi/samples/loop_amen_full.flac")


@pytest.fixture(scope="module")
def eq() -> ParametricEQ:
    return ParametricEQ()


@pytest.fixture(scope="module")
def music() -> np.ndarray:
    """Five seconds of mono audio at 44.1 kHz: the real recording, else a rich synthetic mix."""
    seconds = 5
    if REAL_RECORDING.exists():
        data, rate = sf.read(REAL_RECORDING, dtype="float32", always_2d=True)
        if rate == SAMPLE_RATE and data.shape[0] >= seconds * rate:
            return np.ascontiguousarray(data[: seconds * rate].mean(axis=1))
    rng = np.random.default_rng(0)
    t = np.arange(seconds * SAMPLE_RATE) / SAMPLE_RATE
    tones = sum(np.sin(2 * np.pi * f * t + rng.uniform(0, 6)) / (1 + i)
                for i, f in enumerate([55.0, 110.0, 233.0, 440.0, 1250.0, 3100.0, 7000.0]))
    bursts = rng.standard_normal(t.shape) * (np.sin(2 * np.pi * 2.0 * t) > 0.7)
    return (0.1 * tones + 0.2 * bursts).astype(np.float32)


def settings(eq: ParametricEQ, n: int = 1, **values: float) -> torch.Tensor:
    """``(n, P)`` defaults with some named parameters changed."""
    params = eq.default_params(n)
    names = [spec.name for spec in eq.params]
    for name, value in values.items():
        params[:, names.index(name)] = value
    return params


def snr_db(estimate: np.ndarray, reference: np.ndarray) -> float:
    noise = np.sum((estimate.astype(np.float64) - reference) ** 2)
    return float(10 * np.log10(np.sum(reference.astype(np.float64) ** 2) / noise))


def test_registered_and_selected_by_its_variant_name(eq):
    component = get_plugins().resolve("effect", "eq:dsp")
    assert component.name == "eq:dsp" and not component.default  # bare eq is the emulator
    assert isinstance(component.create(), ParametricEQ)
    chain = EffectChain.from_spec("gain+eq:dsp+pan")
    assert chain.spec == "gain+eq:dsp+pan"
    out = chain(torch.randn(3, 2000), chain.defaults().repeat(3, 1), SAMPLE_RATE)
    assert out.shape == (3, 2, 2000)


def test_param_specs_declare_units_and_scales(eq):
    for spec in eq.params:
        if spec.name.endswith("_freq_hz"):
            assert (spec.unit, spec.scale) == ("Hz", "log")
        elif spec.name.endswith("_gain_db"):
            assert spec.unit == "dB" and spec.minimum < 0 < spec.maximum
        else:
            assert spec.name.endswith("_q") and spec.scale == "log"


def test_default_settings_leave_audio_unchanged(eq):
    x = torch.randn(2, 2, 3000, generator=torch.Generator().manual_seed(1))
    y = eq(x, eq.default_params(2), SAMPLE_RATE)
    torch.testing.assert_close(y, x, rtol=0, atol=1e-6)


@pytest.mark.parametrize(
    ("plugin_name", "band", "freq_hz", "gain_db", "q"),
    [
        ("PeakFilter", "band1", 1000.0, 6.0, 1.0),
        ("PeakFilter", "band2", 150.0, -9.0, 4.0),
        ("PeakFilter", "band3", 6500.0, 12.0, 0.3),
        ("LowShelfFilter", "low_shelf", 200.0, 6.0, 0.707),
        ("LowShelfFilter", "low_shelf", 60.0, -18.0, 1.5),
        ("HighShelfFilter", "high_shelf", 5000.0, -8.0, 0.707),
        ("HighShelfFilter", "high_shelf", 12000.0, 12.0, 0.4),
    ],
)
def test_each_band_matches_pedalboard(eq, music, plugin_name, band, freq_hz, gain_db, q):
    pedalboard = pytest.importorskip("pedalboard")
    reference = getattr(pedalboard, plugin_name)(freq_hz, gain_db, q)(music, SAMPLE_RATE)
    params = settings(
        eq, **{f"{band}_freq_hz": freq_hz, f"{band}_gain_db": gain_db, f"{band}_q": q}
    )
    ours = eq(torch.from_numpy(music)[None, None], params, SAMPLE_RATE)[0, 0].numpy()
    assert snr_db(ours, reference) >= 40.0
    # The band really acted: the untouched signal is far from the reference.
    assert snr_db(music, reference) < 30.0


def test_cascade_is_exact_at_the_hardest_corner():
    """A 20 Hz, Q 10, +24 dB bell (poles 4e-5 from the unit circle) against SciPy in float64."""
    signal = pytest.importorskip("scipy.signal")
    x = torch.randn(1, 1, SAMPLE_RATE, generator=torch.Generator().manual_seed(2))
    b, a = peaking_coefficients(
        torch.tensor([20.0]), torch.tensor([24.0]), torch.tensor([10.0]), SAMPLE_RATE
    )
    ours = biquad_cascade(x, b[:, None], a[:, None])[0, 0].numpy()
    sos = torch.cat([b, a], dim=-1).numpy()
    reference = signal.sosfilt(sos, x[0, 0].double().numpy())
    assert snr_db(ours, reference) >= 60.0


@pytest.mark.slow
def test_gradcheck_float64(eq):
    generator = torch.Generator().manual_seed(3)
    x = torch.randn(2, 1, 24, dtype=torch.float64, generator=generator, requires_grad=True)
    u = torch.rand(2, eq.num_params, dtype=torch.float64, generator=generator) * 0.8 + 0.1
    params = torch.stack([spec.denormalise(u[:, i]) for i, spec in enumerate(eq.params)], 1)
    params.requires_grad_(True)
    assert torch.autograd.gradcheck(
        lambda audio, p: eq(audio, p, SAMPLE_RATE), (x, params), eps=1e-6, atol=1e-5
    )


@pytest.mark.parametrize("sample_rate", [44100, 16000])
def test_outputs_and_gradients_finite_at_every_corner(eq, sample_rate):
    corners = torch.tensor(
        list(itertools.product(*[(spec.minimum, spec.maximum) for spec in eq.params])),
        dtype=torch.float32,
    )
    assert corners.shape == (2**eq.num_params, eq.num_params)
    generator = torch.Generator().manual_seed(4)
    for chunk in corners.split(8192):
        params = chunk.clone().requires_grad_(True)
        x = torch.randn(chunk.shape[0], 1, 96, generator=generator, requires_grad=True)
        y = eq(x, params, sample_rate)
        assert torch.isfinite(y).all()
        y.square().mean().backward()
        assert torch.isfinite(params.grad).all() and torch.isfinite(x.grad).all()
        assert params.grad.abs().sum() > 0


def test_frequency_response_matches_the_filtered_impulse(eq):
    generator = torch.Generator().manual_seed(5)
    columns = []
    for spec in eq.params:
        low = max(spec.minimum, 80.0) if spec.name.endswith("_freq_hz") else spec.minimum
        high = min(spec.maximum, 4.0) if spec.name.endswith("_q") else spec.maximum
        u = torch.rand(3, generator=generator, dtype=torch.float64)
        columns.append(low * (high / low) ** u if spec.scale == "log" else low + (high - low) * u)
    params = torch.stack(columns, dim=1)
    length = 1 << 16  # long enough for the slowest band here to decay by far more than 100 dB
    impulse = torch.zeros(3, 1, length, dtype=torch.float64)
    impulse[..., 0] = 1.0
    response = eq(impulse, params, SAMPLE_RATE)[:, 0]
    freqs, magnitude = eq.frequency_response(params, SAMPLE_RATE, n_freqs=200)
    assert freqs.shape == (200,) and magnitude.shape == (3, 200)
    assert freqs[0] == pytest.approx(20.0) and freqs[-1] == pytest.approx(SAMPLE_RATE / 2)
    measured = torch.zeros(3, 200, dtype=torch.complex128)
    for start in range(0, length, 8192):  # the DTFT at the plot's frequencies, in chunks
        n = torch.arange(start, start + 8192, dtype=torch.float64)
        kernel = torch.polar(torch.ones(200, 8192, dtype=torch.float64),
                             -2 * math.pi * freqs[:, None] * n / SAMPLE_RATE)
        measured += response[:, start:start + 8192].to(kernel.dtype) @ kernel.T
    measured_db = 20 * torch.log10(measured.abs())
    torch.testing.assert_close(magnitude, measured_db, rtol=0, atol=0.01)
    assert magnitude.abs().max() > 1.0  # the settings shape the spectrum


def test_frequency_above_nyquist_is_held_below_it(eq):
    above = settings(eq, band2_freq_hz=20000.0, band2_gain_db=12.0)
    held = settings(eq, band2_freq_hz=0.49 * 16000, band2_gain_db=12.0)
    x = torch.randn(1, 1, 4000, generator=torch.Generator().manual_seed(6))
    y = eq(x, above, 16000)
    assert torch.isfinite(y).all()
    torch.testing.assert_close(y, eq(x, held, 16000))
    assert not torch.allclose(y, x, atol=1e-3)


def test_rejects_wrong_parameter_shape(eq):
    with pytest.raises(ValueError, match="parameters must be"):
        eq(torch.zeros(2, 1, 100), torch.zeros(2, 3), SAMPLE_RATE)
    with pytest.raises(ValueError, match="parameters must be"):
        eq.frequency_response(torch.zeros(1, 3), SAMPLE_RATE)


def test_public_lfilter_fallback_gives_the_same_output(monkeypatch):
    """If torchaudio ever moves its IIR stage, the public lfilter path must take over unchanged."""
    from console_effects.functional import biquad

    generator = torch.Generator().manual_seed(7)
    x = torch.randn(3, 2, 2000, dtype=torch.float64, generator=generator)
    b, a = peaking_coefficients(
        torch.tensor([90.0, 900.0, 9000.0]), torch.tensor([6.0, -9.0, 3.0]),
        torch.tensor([0.5, 2.0, 8.0]), SAMPLE_RATE,
    )
    fast = biquad._torchaudio_cascade(x, b[:, None], a[:, None])
    monkeypatch.setattr(biquad, "_TorchaudioIIR", None)
    fallback = biquad._torchaudio_cascade(x, b[:, None], a[:, None])
    torch.testing.assert_close(fallback, fast, rtol=1e-9, atol=1e-12)
    assert not torch.allclose(fast, x)


def random_sections(n: int, sections: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(n, sections, 3)`` b and a of random cookbook bells and shelves, low corners included."""
    generator = torch.Generator().manual_seed(seed)
    u = torch.rand(3, n, sections, generator=generator, dtype=torch.float64)
    freq = 20.0 * 1000.0 ** u[0]
    gain = -24.0 + 48.0 * u[1]
    q = 0.1 * 100.0 ** u[2]
    makers = [low_shelf_coefficients, peaking_coefficients, high_shelf_coefficients]
    pairs = [makers[s % 3](freq[:, s], gain[:, s], q[:, s].clamp(0.25, 2.0) if s % 3 != 1
                           else q[:, s], SAMPLE_RATE) for s in range(sections)]
    return torch.stack([p[0] for p in pairs], 1), torch.stack([p[1] for p in pairs], 1)


@pytest.mark.parametrize("sections", [1, 5, 7])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_compiled_cascade_matches_the_torchaudio_path(sections, dtype):
    """The CPU loop (five sections per pass, padded) equals the section-by-section path."""
    from console_effects.functional import biquad

    b, a = random_sections(3, sections, seed=8)
    x = torch.randn(3, 2, 3000, generator=torch.Generator().manual_seed(9)).to(dtype)
    ours = biquad.biquad_cascade(x, b, a)
    reference = biquad._torchaudio_cascade(x, b, a)
    assert ours.dtype == dtype and ours.shape == x.shape
    tolerance = 1e-9 if dtype == torch.float64 else 1e-5
    torch.testing.assert_close(ours, reference, rtol=tolerance, atol=tolerance)
    assert not torch.allclose(ours, x, atol=1e-3)


@pytest.mark.parametrize("sections", [2, 5, 7])
def test_compiled_cascade_gradients_match_the_torchaudio_path(sections):
    """The compiled adjoint gives the gradients autograd finds through torchaudio's loop."""
    from console_effects.functional import biquad

    b0, a0 = random_sections(2, sections, seed=10)
    generator = torch.Generator().manual_seed(11)
    x0 = torch.randn(2, 2, 4000, dtype=torch.float64, generator=generator)
    weight = torch.randn(2, 2, 4000, dtype=torch.float64, generator=generator)
    grads = []
    for cascade in (biquad.biquad_cascade, biquad._torchaudio_cascade):
        x, b, a = (t.clone().requires_grad_(True) for t in (x0, b0, a0))
        (cascade(x, b, a) * weight).sum().backward()
        grads.append((x.grad, b.grad, a.grad))
    for ours, reference in zip(*grads, strict=True):
        torch.testing.assert_close(ours, reference, rtol=1e-7, atol=1e-9)
    assert all(g.abs().sum() > 0 for g in grads[0])


def test_compiled_cascade_gradcheck():
    """Exact adjoint, including a0 != 1 and more sections than one compiled pass holds."""
    from console_effects.functional import biquad

    b, a = random_sections(2, 6, seed=13)
    scale = torch.tensor([1.0, 2.0, 0.5, 1.0, 3.0, 1.0], dtype=torch.float64)[None, :, None]
    b, a = (b * scale).requires_grad_(True), (a * scale).requires_grad_(True)
    x = torch.randn(2, 1, 40, dtype=torch.float64, generator=torch.Generator().manual_seed(14))
    x.requires_grad_(True)
    assert torch.autograd.gradcheck(biquad.biquad_cascade, (x, b, a), eps=1e-6, atol=1e-5)


def test_compiled_cascade_without_gradients_gives_the_same_output():
    """Under no_grad the loop keeps no per-section signals; the output is the same."""
    b, a = random_sections(2, 5, seed=15)
    x = torch.randn(2, 1, 1000, generator=torch.Generator().manual_seed(16))
    with_graph = biquad_cascade(x.clone().requires_grad_(True), b, a)
    with torch.no_grad():
        without = biquad_cascade(x, b, a)
    assert with_graph.requires_grad and not without.requires_grad
    torch.testing.assert_close(without, with_graph.detach(), rtol=0, atol=0)
