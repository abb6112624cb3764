"""The DSP reverb: decay matches the RT60, determinism, width, mix, gradients everywhere."""

from __future__ import annotations

import itertools

import pytest
import torch

from console.plugins import get_plugins
from console_effects.functional import reverb as functional
from console_effects.functional.reverb import (
    BAND_CENTRES_HZ,
    band_cross_power,
    band_decay_times,
    band_noise,
    band_weights,
    decay_groups,
    decaying_band_sum,
    delay_ramp,
    estimate_rt60,
    fast_fft_length,
    fft_convolve,
    fft_length_groups,
    merge_equal_decay_bands,
    stereo_impulse_response,
    tail_length,
)
from console_effects.reverb import Reverb

SR = 16000


def reverb_params(n=1, **values) -> torch.Tensor:
    row = [float(values.get(p.name, p.default)) for p in Reverb.params]
    return torch.tensor([row] * n)


def noise(n=1, channels=1, seconds=0.25, seed=0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return 0.3 * torch.randn(n, channels, int(seconds * SR), generator=g)


@pytest.mark.parametrize("decay_s", [0.2, 0.8, 2.5])
def test_energy_decay_matches_the_requested_rt60(decay_s):
    params = reverb_params(decay_s=decay_s, brightness=1.0, predelay_ms=0.0)
    ir = Reverb().impulse_response(params, SR)
    assert ir.shape[:2] == (1, 2) and ir.shape[-1] >= tail_length(decay_s, SR)
    measured = estimate_rt60(ir.double(), SR)
    torch.testing.assert_close(measured, torch.full_like(measured, decay_s), rtol=0.1, atol=0.0)


def test_low_brightness_shortens_the_high_band_decay():
    reverb = Reverb()
    dark, bright = (
        reverb.impulse_response(reverb_params(decay_s=1.0, brightness=b), SR) for b in (0.0, 1.0)
    )
    spectrum_tail = [torch.fft.rfft(ir[0, 0, int(0.4 * SR):]).abs() for ir in (dark, bright)]
    freqs = torch.fft.rfftfreq(dark.shape[-1] - int(0.4 * SR), 1 / SR)
    high = freqs > 4000
    assert spectrum_tail[0][high].square().sum() < 0.01 * spectrum_tail[1][high].square().sum()


def test_same_parameters_give_identical_output_and_the_seed_is_saved():
    x = noise(2)
    params = reverb_params(2, decay_s=0.5)
    a = Reverb()(x, params, SR)
    b = Reverb()(x, params, SR)
    assert torch.equal(a, b)
    other = Reverb(seed=7)
    assert not torch.equal(other(x, params, SR), a)
    other.load_state_dict(Reverb().state_dict())
    assert torch.equal(other(x, params, SR), a)


def test_global_rng_is_left_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    Reverb()(noise(), reverb_params(), SR)
    assert torch.equal(torch.rand(3), expected)


def test_width_zero_gives_identical_channels_and_width_one_decorrelates():
    x = noise()
    narrow = Reverb()(x, reverb_params(width=0.0, mix=1.0), SR)
    assert narrow.shape == (1, 2, x.shape[-1])
    assert torch.equal(narrow[:, 0], narrow[:, 1])
    ir = Reverb().impulse_response(reverb_params(width=1.0, decay_s=1.0), SR)[0]
    correlation = (ir[0] * ir[1]).sum() / ir.square().sum(-1).prod().sqrt()
    assert correlation.abs() < 0.1


def test_mix_zero_passes_the_dry_signal_and_keeps_stereo_input():
    mono, stereo = noise(), noise(channels=2, seed=1)
    out_mono = Reverb()(mono, reverb_params(mix=0.0), SR)
    torch.testing.assert_close(out_mono, mono.expand(-1, 2, -1))
    torch.testing.assert_close(Reverb()(stereo, reverb_params(mix=0.0), SR), stereo)
    assert (Reverb()(mono, reverb_params(mix=0.5), SR) - out_mono).abs().max() > 1e-3


def test_fft_convolution_is_linear_not_circular_and_delays():
    g = torch.Generator().manual_seed(3)
    x = torch.randn(2, 1, 100, generator=g, dtype=torch.float64)
    ir = torch.randn(2, 2, 70, generator=g, dtype=torch.float64)
    got = fft_convolve(x, ir, torch.tensor([0.0, 5.0], dtype=torch.float64), 100)
    for n, delay in enumerate((0, 5)):
        for c in range(2):
            full = torch.nn.functional.conv1d(
                x[n : n + 1], ir[n, c].flip(-1)[None, None], padding=ir.shape[-1] - 1
            )[0, 0]
            expected = torch.cat([torch.zeros(delay, dtype=x.dtype), full])[:100]
            torch.testing.assert_close(got[n, c], expected)


def test_band_noise_sums_back_to_white_noise():
    bands = band_noise(4096, SR, seed=5)
    assert bands.shape == (2, len(BAND_CENTRES_HZ), 4096)
    white = torch.randn(2, 4096, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    torch.testing.assert_close(bands.sum(1), white)
    weights = band_weights(torch.linspace(0, SR / 2, 257), BAND_CENTRES_HZ)
    torch.testing.assert_close(weights.sum(0), torch.ones(257, dtype=torch.float64))


def test_gradcheck_float64():
    reverb = Reverb()
    g = torch.Generator().manual_seed(2)
    x = torch.randn(2, 1, 96, generator=g, dtype=torch.float64).requires_grad_()
    params = torch.tensor(
        [[0.05, 1.3, 0.3, 0.6, 0.4], [0.02, 0.4, 0.9, 0.2, 0.7]], dtype=torch.float64
    ).requires_grad_()
    sr = 8000  # 96 samples hold about 1.5 RT60 of the longer decay
    # fast_mode checks random projections of the Jacobian: one FFT chain per probe, not per entry.
    assert torch.autograd.gradcheck(lambda a, p: reverb(a, p, sr), (x, params), fast_mode=True)


def test_outputs_and_gradients_finite_at_every_range_corner():
    ranges = [(p.minimum, p.maximum) for p in Reverb.params]
    corners = torch.tensor(list(itertools.product(*ranges)))
    x = noise(len(corners), seconds=0.2).requires_grad_()
    params = corners.clone().requires_grad_()
    y = Reverb()(x, params, SR)
    assert torch.isfinite(y).all()
    y.square().mean().backward()
    assert torch.isfinite(x.grad).all() and torch.isfinite(params.grad).all()
    assert params.grad.abs().sum() > 0


def test_rejects_more_than_two_channels_and_registers():
    with pytest.raises(ValueError, match="mono or stereo"):
        Reverb()(noise(channels=3), reverb_params(), SR)
    assert isinstance(get_plugins().resolve("effect", "reverb:dsp").create(), Reverb)


def test_bands_that_always_decay_alike_are_merged_without_changing_the_response():
    """Summing the bands at or below the pivot first gives the eight-band response."""
    groups = decay_groups()
    assert groups[0] == (0, 1, 2, 3) and all(len(g) == 1 for g in groups[1:])
    assert sorted(i for g in groups for i in g) == list(range(len(BAND_CENTRES_HZ)))
    bands = band_noise(6000, SR, seed=4)
    merged = merge_equal_decay_bands(bands, groups)
    decay = torch.tensor([0.3, 0.9], dtype=torch.float64)
    brightness = torch.tensor([0.0, 0.6], dtype=torch.float64)
    width = torch.tensor([0.7, 0.2], dtype=torch.float64)
    rt60 = band_decay_times(decay, brightness)
    full = stereo_impulse_response(bands, band_cross_power(bands), rt60, width, SR)
    fast = stereo_impulse_response(
        merged, band_cross_power(merged), rt60[:, [g[0] for g in groups]], width, SR
    )
    torch.testing.assert_close(fast, full, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_compiled_band_sum_matches_the_torch_path_with_gradients(dtype):
    g = torch.Generator().manual_seed(8)
    bands = torch.randn(2, 5, 3000, generator=g, dtype=torch.float64).to(dtype)
    log_decay = (-torch.rand(3, 5, generator=g, dtype=torch.float64) * 3e-3).to(dtype)
    lengths = torch.tensor([3000, 1200, 2500])
    weight = torch.randn(3, 2, 3000, generator=g, dtype=dtype)
    results = []
    for band_sum in (decaying_band_sum, functional._torch_decaying_sum):
        decay = log_decay.clone().requires_grad_(True)
        out = band_sum(bands, decay, lengths)
        (out * weight).sum().backward()
        results.append((out.detach(), decay.grad))
    tolerance = {"rtol": 1e-9, "atol": 1e-9} if dtype == torch.float64 else {}
    torch.testing.assert_close(results[0][0], results[1][0], **tolerance)
    torch.testing.assert_close(results[0][1], results[1][1], **tolerance)
    assert results[0][0].dtype == dtype
    assert (results[0][0][1, :, 1200:] == 0).all() and (results[0][0][1, :, :1200] != 0).all()


def test_fft_length_groups_hold_every_row_at_a_fast_length_near_its_own():
    required = [1000, 1900, 1010, 1500, 1999, 1200, 1201]  # within an octave, as in the reverb
    groups = fft_length_groups(required, call_overhead_rows=0.0)  # no merging: the grid
    assert sorted(r for _, rows in groups for r in rows) == list(range(len(required)))
    assert len(groups) <= 9
    for size, rows in groups:
        assert size == fast_fft_length(size)
        for r in rows:
            assert required[r] <= size <= fast_fft_length(int(required[r] * 2 ** 0.125) + 1)
    assert dict((r, size) for size, rows in groups for r in rows)[5] == 1200
    assert fft_length_groups([]) == []


def test_fft_length_groups_merge_where_a_call_costs_more_than_the_padding():
    def cost(groups, overhead):
        return sum(size * (overhead + len(rows)) for size, rows in groups)

    required = [1000] * 12 + [1100, 1700] + [1990] * 10
    for overhead in (0.0, 3.0, 50.0):
        groups = fft_length_groups(required, call_overhead_rows=overhead)
        assert sorted(r for _, rows in groups for r in rows) == list(range(len(required)))
        assert all(required[r] <= size for size, rows in groups for r in rows)
        unmerged = fft_length_groups(required, call_overhead_rows=0.0)
        single = [(max(size for size, _ in unmerged), list(range(len(required))))]
        assert cost(groups, overhead) <= min(cost(unmerged, overhead), cost(single, overhead))
    assert len(fft_length_groups(required, call_overhead_rows=0.0)) == 4
    assert len(fft_length_groups(required, call_overhead_rows=3.0)) == 2  # lone rows merged
    assert len(fft_length_groups(required, call_overhead_rows=50.0)) == 1


def test_each_row_is_independent_of_the_rest_of_the_batch(monkeypatch):
    """A response stops at its own tail: mixing short and long decays changes no row."""
    monkeypatch.setattr(functional, "FFT_CALL_OVERHEAD_ROWS", 0.0)  # a group per length
    decays = [0.1, 2.0, 0.4, 0.15, 1.0]
    params = torch.cat([
        reverb_params(decay_s=d, predelay_ms=12.5 * i, width=0.5, mix=1.0)
        for i, d in enumerate(decays)
    ]).double()  # pre-delays are whole samples at 16 kHz, so no interpolation differs
    x = noise(len(decays), seconds=1.0).double()  # float64: FFT lengths differ, rounding not
    reverb = Reverb()
    batch = reverb(x, params, SR)
    assert len(fft_length_groups([x.shape[-1] + tail_length(d, SR) for d in decays])) > 1
    for row in range(len(decays)):
        alone = reverb(x[row : row + 1], params[row : row + 1], SR)
        torch.testing.assert_close(batch[row : row + 1], alone, rtol=0, atol=1e-10)


def test_gradcheck_across_fft_groups(monkeypatch):
    """Rows convolved at different FFT lengths are put back in order, gradients included."""
    monkeypatch.setattr(functional, "FFT_CALL_OVERHEAD_ROWS", 0.0)  # a group per length
    reverb = Reverb()
    g = torch.Generator().manual_seed(6)
    x = torch.randn(3, 1, 200, generator=g, dtype=torch.float64).requires_grad_()
    params = torch.tensor(
        [[0.2, 1.0, 0.3, 0.6, 0.4], [0.0103, 0.4, 0.9, 0.2, 0.7], [0.0207, 2.0, 0.5, 0.9, 0.5]],
        dtype=torch.float64,
    ).requires_grad_()
    sr = 4000  # the tails end between samples: a tail one sample longer is a -90 dB step
    tails = [min(200, tail_length(d, sr)) for d in (0.2, 0.0103, 0.0207)]
    assert len(fft_length_groups([200 + t for t in tails])) == 3
    assert torch.autograd.gradcheck(lambda a, p: reverb(a, p, sr), (x, params), fast_mode=True)


@pytest.mark.parametrize(
    ("x_channels", "ir_channels", "n_fft"), [(1, 2, 80), (2, 2, 75), (2, 1, 81), (1, 1, 76)]
)
def test_fft_convolution_gradcheck(x_channels, ir_channels, n_fft):
    """The written-out adjoint (real FFTs, Hermitian weights), even and odd FFT lengths."""
    g = torch.Generator().manual_seed(9)
    x = torch.randn(2, x_channels, 50, generator=g, dtype=torch.float64, requires_grad=True)
    ir = torch.randn(2, ir_channels, 20, generator=g, dtype=torch.float64, requires_grad=True)
    delay = torch.tensor([1.3, 3.2], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda a, b, d: functional._FFTConvolution.apply(a, b, d, 50, n_fft), (x, ir, delay)
    )
    whole = torch.tensor([1.0, 3.0], dtype=torch.float64)  # whole samples: no interpolation
    torch.testing.assert_close(  # fft_convolve picks its own (even) length: same result
        functional._FFTConvolution.apply(x, ir, whole, 50, n_fft), fft_convolve(x, ir, whole, 50)
    )


def test_fft_lengths_are_the_smallest_even_5_smooth_numbers():
    def smooth(n: int) -> bool:
        for p in (2, 3, 5):
            while n % p == 0:
                n //= p
        return n == 1

    candidates = [m for m in range(2, 4000, 2) if smooth(m)]
    for n in range(1, 3000):
        assert fast_fft_length(n) == next(m for m in candidates if m >= n)
    assert fast_fft_length(264601) == 270000  # not 265625 = 5**6, odd and 2.7x slower


def test_delay_ramp_is_accurate_for_long_delays():
    """Phases of thousands of radians: the factored ramp keeps float64 accuracy."""
    n_fft, bins = 270000, 135001
    delay = torch.tensor([0.0, 441.37, 4409.99])
    ramp = delay_ramp(delay, n_fft, bins)
    assert ramp.shape == (3, bins) and ramp.dtype == torch.complex64
    k = torch.arange(bins, dtype=torch.float64)
    angle = -2.0 * torch.pi * delay.double()[:, None] * k / n_fft
    exact = torch.polar(torch.ones_like(angle), angle)
    assert (ramp.to(torch.complex128) - exact).abs().max() < 1e-6
    assert torch.equal(ramp[0], torch.ones(bins, dtype=torch.complex64))


def test_an_empty_batch_gives_an_empty_stereo_output():
    assert Reverb()(torch.zeros(0, 1, 100), reverb_params(1)[:0], SR).shape == (0, 2, 100)
