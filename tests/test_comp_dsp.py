"""The DSP compressor: pedalboard agreement, ballistics that act, gradients everywhere."""

from __future__ import annotations

import itertools
import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from console.numbers import db_to_amplitude
from console.plugins import get_plugins
from console_effects.compressor import Compressor
from console_effects.functional import compressor as functional
from console_effects.functional.compressor import (
    attack_release_smoothing,
    compressor_gain_db,
    gain_computer_db,
    smoothing_coefficient,
)

REAL_DRUMS = Path("/usr/share/sonic-pi/samples/loop_amen_full.flac")  # Debian sonic-pi-samples


def comp_params(n=1, **values) -> torch.Tensor:
    """``(n, P)`` parameters: defaults overridden by ``values``."""
    row = [float(values.get(p.name, p.default)) for p in Compressor.params]
    return torch.tensor([row] * n)


def dynamic_signal(seconds: float, sample_rate: int, seed: int = 0) -> np.ndarray:
    """Stereo noise and tones whose level jumps between -40 and -3 dBFS every 150-400 ms."""
    rng = np.random.default_rng(seed)
    length = int(seconds * sample_rate)
    levels = np.empty(length)
    start = 0
    while start < length:
        stop = start + int(rng.uniform(0.15, 0.4) * sample_rate)
        levels[start:stop] = 10.0 ** (rng.uniform(-40.0, -3.0) / 20.0)
        start = stop
    t = np.arange(length) / sample_rate
    carrier = 0.5 * rng.standard_normal((2, length)) + np.sin(2 * np.pi * 220.0 * t)
    return (levels * carrier / 1.5).astype(np.float32)


def load_audio(source: str) -> tuple[np.ndarray, int]:
    if source == "synthetic":
        return dynamic_signal(4.0, 44100), 44100
    if not REAL_DRUMS.exists():
        pytest.skip("the sonic-pi-samples drum loop is not installed")
    import soundfile as sf

    audio, sample_rate = sf.read(REAL_DRUMS, dtype="float32", always_2d=True)
    return np.ascontiguousarray(audio.T), sample_rate


@pytest.mark.parametrize("source", ["real", "synthetic"])
@pytest.mark.parametrize(
    "threshold_db, ratio, attack_ms, release_ms",
    [(-20.0, 4.0, 5.0, 100.0), (-30.0, 10.0, 1.0, 50.0), (-12.0, 2.0, 30.0, 400.0)],
)
def test_hard_knee_juce_mode_matches_pedalboard(
    source, threshold_db, ratio, attack_ms, release_ms
):
    pedalboard = pytest.importorskip("pedalboard")
    audio, sample_rate = load_audio(source)
    reference = pedalboard.Compressor(
        threshold_db=threshold_db, ratio=ratio, attack_ms=attack_ms, release_ms=release_ms
    )(audio, sample_rate)

    compressor = Compressor(time_constant="juce", stereo_link=False)
    params = comp_params(
        threshold_db=threshold_db, ratio=ratio, attack_ms=attack_ms, release_ms=release_ms,
        knee_db=0.0, makeup_db=0.0,
    )
    with torch.no_grad():
        ours = compressor(torch.from_numpy(audio)[None], params, sample_rate)[0].numpy()

    audible = np.abs(audio) > 1e-3
    audible[:, : int(0.05 * sample_rate)] = False
    reduction_ours = 20 * np.log10(np.abs(ours[audible]) / np.abs(audio[audible]))
    reduction_reference = 20 * np.log10(np.abs(reference[audible]) / np.abs(audio[audible]))
    assert reduction_reference.min() < -3.0, "the settings must actually compress"
    assert np.abs(reduction_ours - reduction_reference).max() < 1.0


def burst_then_quiet(sample_rate: int) -> torch.Tensor:
    """0.2 s of a loud tone, then 0.4 s of a quiet one: ``(1, 1, T)``."""
    t = torch.arange(int(0.6 * sample_rate)) / sample_rate
    level = torch.where(t < 0.2, 0.9, 0.05)
    return (level * torch.sin(2 * math.pi * 200.0 * t))[None, None]


def test_release_time_changes_the_output_and_sets_the_recovery():
    sr = 16000
    x = burst_then_quiet(sr)
    compressor = Compressor()
    fast, slow = (
        compressor.gain_trace(x, comp_params(threshold_db=-30, ratio=8, release_ms=r), sr)[0]
        for r in (20.0, 500.0)
    )
    after = slice(int(0.25 * sr), int(0.35 * sr))  # 50-150 ms after the burst
    assert (fast[after] - slow[after]).mean() > 3.0  # the short release recovers sooner
    outputs = [
        compressor(x, comp_params(threshold_db=-30, ratio=8, release_ms=r), sr) for r in (20, 500)
    ]
    assert (outputs[0] - outputs[1]).abs().max() > 1e-2


def test_attack_time_changes_the_output_and_sets_the_onset():
    sr = 16000
    x = burst_then_quiet(sr)
    compressor = Compressor()
    fast, slow = (
        compressor.gain_trace(x, comp_params(threshold_db=-30, ratio=8, attack_ms=a), sr)[0]
        for a in (0.5, 50.0)
    )
    onset = slice(int(0.005 * sr), int(0.02 * sr))
    assert (slow[onset] - fast[onset]).mean() > 3.0  # the short attack clamps down sooner


@pytest.mark.parametrize("time_constant, cycles", [("exponential", 1.0), ("juce", 2 * math.pi)])
def test_time_constant_conventions(time_constant, cycles):
    sr = 1000
    step = torch.ones(1, 200, dtype=torch.float64)
    coef = smoothing_coefficient(torch.tensor([20.0], dtype=torch.float64), sr, time_constant)
    envelope = attack_release_smoothing(step, coef, coef)[0]
    # After n samples a step response is 1 - a**n; at 20 ms that is 1 - exp(-cycles).
    assert envelope[19].item() == pytest.approx(1.0 - math.exp(-cycles), rel=1e-9)


def test_static_curve_hard_knee_and_identity():
    compressor = Compressor()
    levels = torch.linspace(-80.0, 10.0, 91)
    params = comp_params(2, threshold_db=-20.0, knee_db=0.0, makeup_db=3.0)
    params[0, 1] = 4.0
    params[1, 1] = 1.0
    curve = compressor.static_curve(params, levels)
    expected_hard = torch.where(levels > -20.0, -20.0 + (levels + 20.0) / 4.0, levels) + 3.0
    torch.testing.assert_close(curve[0], expected_hard)
    torch.testing.assert_close(curve[1], levels + 3.0)


def test_soft_knee_is_continuous_and_meets_the_hard_curve_outside():
    threshold, ratio, knee = torch.tensor(-20.0), torch.tensor(4.0), torch.tensor(10.0)
    levels = torch.linspace(-60.0, 0.0, 6001, dtype=torch.float64)
    soft = gain_computer_db(levels, threshold, ratio, knee)
    hard = gain_computer_db(levels, threshold, ratio, torch.tensor(0.0))
    outside = (levels - threshold).abs() >= knee / 2
    torch.testing.assert_close(soft[outside], hard[outside])
    assert soft.diff().abs().max() < 0.01  # no jumps at the knee edges
    # The parabola lies under the corner: reduction begins below the threshold.
    assert bool((soft <= hard + 1e-12).all()) and soft[levels == threshold].item() < 0


def test_stereo_link_applies_one_gain_to_both_channels():
    sr = 16000
    x = burst_then_quiet(sr).expand(1, 2, -1) * torch.tensor([1.0, 0.3])[None, :, None]
    y = Compressor(stereo_link=True)(x, comp_params(threshold_db=-30, ratio=8), sr)
    nonzero = x[0, 0].abs() > 1e-4
    gain_left = y[0, 0, nonzero] / x[0, 0, nonzero]
    torch.testing.assert_close(gain_left, y[0, 1, nonzero] / x[0, 1, nonzero])


def test_gain_trace_explains_the_output():
    sr = 16000
    x = burst_then_quiet(sr)
    params = comp_params(threshold_db=-25, ratio=6, makeup_db=4.0)
    compressor = Compressor()
    trace = compressor.gain_trace(x, params, sr)
    assert trace.shape == (1, x.shape[-1]) and bool((trace <= 0).all()) and trace.min() < -6
    expected = x[0, 0] * 10 ** ((trace[0] + 4) / 20)
    torch.testing.assert_close(compressor(x, params, sr)[0, 0], expected)


def test_smoother_gradcheck():
    g = torch.Generator().manual_seed(0)
    level = torch.rand(3, 40, generator=g, dtype=torch.float64).requires_grad_()
    attack = torch.tensor([0.3, 0.6, 0.9], dtype=torch.float64, requires_grad=True)
    release = torch.tensor([0.95, 0.7, 0.99], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(attack_release_smoothing, (level, attack, release))


@pytest.mark.parametrize("time_constant", ["exponential", "juce"])
def test_effect_gradcheck_float64(time_constant):
    sr = 8000
    g = torch.Generator().manual_seed(1)
    x = (0.8 * torch.randn(2, 1, 48, generator=g, dtype=torch.float64)).requires_grad_()
    params = torch.tensor(
        [[-18.0, 3.0, 2.0, 30.0, 6.0, 2.0], [-10.0, 1.5, 0.5, 15.0, 0.0, 0.0]],
        dtype=torch.float64,
        requires_grad=True,
    )
    compressor = Compressor(time_constant=time_constant)
    assert torch.autograd.gradcheck(lambda a, p: compressor(a, p, sr), (x, params))


def test_outputs_and_gradients_finite_at_every_range_corner():
    sr = 16000
    corners = torch.tensor(
        list(itertools.product(*[(p.minimum, p.maximum) for p in Compressor.params]))
    )
    t = torch.arange(int(0.1 * sr)) / sr
    signal = torch.sin(2 * math.pi * 300 * t) * torch.where(t < 0.03, 0.0, 2.0)  # silence, then hot
    x = signal.expand(len(corners), 1, -1).clone().requires_grad_()
    params = corners.clone().requires_grad_()
    for time_constant in ("exponential", "juce"):
        y = Compressor(time_constant=time_constant)(x, params, sr)
        assert torch.isfinite(y).all()
        x.grad = params.grad = None
        y.square().mean().backward()
        assert torch.isfinite(x.grad).all() and torch.isfinite(params.grad).all()
        assert params.grad.abs().sum() > 0


def test_registered_under_its_spec_name():
    effect = get_plugins().resolve("effect", "comp:dsp").create()
    assert isinstance(effect, Compressor)
    assert [p.name for p in effect.params] == [
        "threshold_db", "ratio", "attack_ms", "release_ms", "knee_db", "makeup_db",
    ]


def test_missing_numba_is_one_clear_error(monkeypatch):
    from console_effects.functional import compressor as functional

    functional.compiled_kernels.cache_clear()
    monkeypatch.setitem(sys.modules, "numba", None)
    try:
        with pytest.raises(ImportError, match="pip install numba"):
            Compressor()(burst_then_quiet(8000), comp_params(), 8000)
    finally:
        functional.compiled_kernels.cache_clear()


def random_comp_params(n: int, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.stack([p.sample(n, generator=generator) for p in Compressor.params], 1)


@pytest.mark.parametrize("stereo_link", [True, False])
def test_folded_gain_equals_the_gain_curve_in_db(stereo_link):
    """The fast path (constants folded, one exponential) is the dB curve plus make-up."""
    compressor = Compressor(stereo_link=stereo_link)
    params = random_comp_params(6, seed=3).double()
    x = torch.from_numpy(dynamic_signal(0.5, 16000, seed=2)).double()[None].repeat(6, 1, 1)
    p = compressor._columns(params)
    gain_db = compressor_gain_db(
        x, p["threshold_db"], p["ratio"], p["attack_ms"], p["release_ms"], p["knee_db"], 16000,
        stereo_link=stereo_link,
    )
    expected = x * 10.0 ** ((gain_db + p["makeup_db"][:, None, None]) / 20.0)
    torch.testing.assert_close(compressor(x, params, 16000), expected, rtol=1e-12, atol=1e-12)
    levels = torch.tensor([-6.0, 0.0, 20.0], dtype=torch.float64)
    torch.testing.assert_close(db_to_amplitude(levels), 10.0 ** (levels / 20.0))


def test_rows_processed_in_slices_give_the_same_output_and_gradients(monkeypatch):
    """Slicing the batch for the cache changes nothing, gradients included."""
    compressor = Compressor()
    params0 = random_comp_params(5, seed=4)
    x0 = torch.from_numpy(dynamic_signal(0.25, 16000, seed=5))[None].repeat(5, 1, 1)
    results = []
    for chunk in (1 << 30, 2 * x0.shape[1] * x0.shape[2]):  # whole batch, then two rows a slice
        monkeypatch.setattr(functional, "ROW_CHUNK_SAMPLES", chunk)
        x, params = x0.clone().requires_grad_(True), params0.clone().requires_grad_(True)
        y = compressor(x, params, 16000)
        (y * torch.linspace(-1, 1, y.shape[-1])).sum().backward()
        results.append((y.detach(), x.grad, params.grad))
    for whole, sliced in zip(*results, strict=True):
        torch.testing.assert_close(sliced, whole, rtol=0, atol=0)


def test_an_empty_batch_gives_an_empty_output():
    compressor = Compressor()
    y = compressor(torch.zeros(0, 2, 100), compressor.default_params(1)[:0], 16000)
    assert y.shape == (0, 2, 100)
