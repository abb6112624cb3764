"""The grey-box emulators' compiled backward passes (``eq:tcn``, ``comp:tcn``, ``reverb:tcn``).

The emulators differentiate through hand-written adjoints (compiled loops) rather
than autograd's graph. Here each is checked against a straightforward reference
that autograd differentiates: the EQ's sections filtered one by one with
torchaudio's ``lfilter`` and its design through autograd, the compressor as
``comp:dsp``'s functions and its settings map through autograd, and a
sample-by-sample torch Freeverb; with ``gradcheck`` on the kernels in double
precision; and the EQ's and the compressor's forward passes against the
implementations they had before, which they must match sample for sample.
"""

from __future__ import annotations

import pytest
import torch
import torchaudio.functional as taf

import console_effects.functional.biquad as functional_biquad
import console_effects.functional.compressor as functional_compressor
import console_effects.greybox as greybox
from console_effects.emulator import CompressorEmulator, EQEmulator
from console_effects.functional.biquad import biquad_cascade
from console_effects.functional.compressor import compress
from console_effects.functional.freeverb import ALLPASS_FEEDBACK, delays, freeverb
from console_effects.greybox import BiquadSections, FeedForwardCompressor, GreyBoxConfig
from console_effects.reverb_emulator import ReverbEmulator

SR = 44100


def random_settings(effect, rows: int, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.stack([spec.sample(rows, generator=generator) for spec in effect.params], 1)


def max_relative(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.detach() - b.detach()).abs().max() / b.detach().abs().max())


def outputs_and_gradients(runs, weights, *inputs) -> list[tuple[torch.Tensor, ...]]:
    """Per run, its output and the gradients of ``sum(output * weights)`` to every input."""
    results = []
    for run in runs:
        leaves = [t.clone().requires_grad_() for t in inputs]
        y = run(*leaves)
        results.append((y.detach(), *torch.autograd.grad((y * weights).sum(), leaves)))
    return results


# -- the EQ -------------------------------------------------------------------------------------


def stable_sections(rows: int, seed: int) -> torch.Tensor:
    """``(rows, 5, 5)`` float64 ``(b0, b1, b2, a1, a2)`` with poles up to 0.999 from the origin."""
    generator = torch.Generator().manual_seed(seed)
    radius = 0.5 + 0.499 * torch.rand(rows, 5, generator=generator, dtype=torch.float64)
    angle = torch.pi * torch.rand(rows, 5, generator=generator, dtype=torch.float64)
    zeros = torch.randn(rows, 5, 3, generator=generator, dtype=torch.float64)
    return torch.cat([zeros, torch.stack([-2 * radius * angle.cos(), radius**2], -1)], -1)


def lfilter_cascade(x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """Rows ``(R, T)`` through five sections ``(R, 5, 5)``, one by one with torchaudio's lfilter."""
    y = x.double()
    for section in range(c.shape[1]):
        b = c[:, section, :3]
        a = torch.cat([torch.ones_like(b[:, :1]), c[:, section, 3:]], -1)
        y = taf.lfilter(y, a, b, clamp=False, batching=True)
    return y


@pytest.mark.parametrize("block", [16, 2048])
def test_the_cascades_backward_pass_passes_gradcheck(monkeypatch, block):
    monkeypatch.setattr(functional_biquad, "_ADJOINT_BLOCK", block)  # 16: many blocks in 100
    torch.manual_seed(0)
    x = torch.randn(2, 100, dtype=torch.float64, requires_grad=True)
    c = stable_sections(2, seed=1).requires_grad_()
    assert torch.autograd.gradcheck(
        lambda x, c: functional_biquad.SectionsCascade.apply(x, c, True), (x, c), eps=1e-6,
        atol=1e-6,
    )


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_the_cascade_matches_lfilter_and_its_gradients(dtype):
    torch.manual_seed(2)
    x = (0.1 * torch.randn(3, 5000)).to(dtype).requires_grad_()  # three blocks of 2048
    c = stable_sections(3, seed=3).requires_grad_()
    weights = torch.randn(3, 5000, dtype=torch.float64)
    y = functional_biquad.SectionsCascade.apply(x, c, True)
    reference = lfilter_cascade(x, c)
    assert y.dtype == dtype
    assert max_relative(y.double(), reference) < (1e-6 if dtype == torch.float32 else 1e-10)
    grads = torch.autograd.grad((y.double() * weights).sum(), (x, c))
    expected = torch.autograd.grad((reference * weights).sum(), (x, c))
    for got, want in zip(grads, expected, strict=True):
        assert max_relative(got.double(), want) < 1e-6


@pytest.fixture(scope="module")
def shipped_eq():
    return EQEmulator()


def reference_eq(effect, x: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
    """The EQ as it was: its design through autograd, then ``eq:dsp``'s cascade and adjoint."""
    b, a = effect.network.coefficients(effect.normalise(params), SR)
    return biquad_cascade(x, b, a)


@pytest.mark.parametrize("channels, dtype", [(1, torch.float32), (2, torch.float32),
                                             (1, torch.float64)])
def test_the_shipped_eq_computes_what_it_did_with_the_same_gradients(shipped_eq, channels, dtype):
    for seed in range(3):
        params = random_settings(shipped_eq, 3, seed).to(dtype)
        x = (0.1 * torch.randn(3, channels, 6000, generator=torch.Generator().manual_seed(seed)))
        x = x.to(dtype)
        weights = torch.randn(3, channels, 6000, dtype=dtype)
        (y, grad_x, grad_p), (y_old, grad_x_old, grad_p_old) = outputs_and_gradients(
            (lambda x, p: shipped_eq(x, p, SR), lambda x, p: reference_eq(shipped_eq, x, p)),
            weights, x, params)
        assert float((y - y_old).abs().max()) <= 1e-5  # in fact the same samples
        assert torch.equal(y, y_old)
        assert max_relative(grad_x, grad_x_old) < 1e-5
        assert max_relative(grad_p, grad_p_old) < 1e-4


def test_the_shipped_eqs_gradients_match_an_independent_reference(shipped_eq):
    """Design through autograd, sections through lfilter, all in float64."""
    params = random_settings(shipped_eq, 4, seed=5).double()
    x = 0.1 * torch.randn(4, 1, 3000, generator=torch.Generator().manual_seed(6),
                          dtype=torch.float64)
    weights = torch.randn(4, 1, 3000, dtype=torch.float64)
    xs, ps = x.clone().requires_grad_(), params.clone().requires_grad_()
    y = shipped_eq(xs, ps, SR)
    grads = torch.autograd.grad((y * weights).sum(), (xs, ps))
    xr, pr = x.clone().requires_grad_(), params.clone().requires_grad_()
    b, a = shipped_eq.network.coefficients(shipped_eq.normalise(pr), SR)
    reference = lfilter_cascade(xr[:, 0], torch.cat([b, a[..., 1:]], -1))[:, None]
    expected = torch.autograd.grad((reference * weights).sum(), (xr, pr))
    assert max_relative(y, reference) < 1e-9
    assert max_relative(grads[0], expected[0]) < 1e-8
    assert max_relative(grads[1], expected[1]) < 1e-5  # the maps run in float32


@pytest.mark.parametrize("layers", [1, 2, 3])
def test_the_designs_compiled_gradient_is_autograds(shipped_eq, layers):
    network = BiquadSections(GreyBoxConfig("eq_biquads", 3, channels=8, layers=layers),
                             shipped_eq.params)
    torch.manual_seed(layers)
    with torch.no_grad():
        for parameter in network.parameters():
            parameter.copy_(0.5 * torch.randn_like(parameter))
    network.requires_grad_(False)
    normalised = torch.rand(6, 15, dtype=torch.float64)
    normalised[0] = 0.0  # at the clamps' ends: no gradient, as from torch's clamp
    normalised[1] = 1.0
    normalised[2, ::3] = 1.0  # the top frequency: clamped below the Nyquist frequency at 8 kHz
    grad = torch.randn(6, 5, 5, dtype=torch.float64)
    for rate in (SR, 8000):
        given = normalised.clone().requires_grad_()
        c = greybox._FrozenDesign.apply(given, network, rate)
        (compiled,) = torch.autograd.grad((c * grad).sum(), given)
        given = normalised.clone().requires_grad_()
        b, a = network.coefficients(given, rate)
        expected_c = torch.cat([b, a[..., 1:]], -1)
        (expected,) = torch.autograd.grad((expected_c * grad).sum(), given)
        assert torch.equal(c, expected_c)
        assert max_relative(compiled, expected) < 1e-5  # autograd runs the maps in float32


def test_with_trainable_maps_it_runs_autograd_and_reaches_the_weights(shipped_eq):
    network = BiquadSections(shipped_eq.network.config, shipped_eq.params)
    network.load_state_dict(shipped_eq.network.state_dict())
    x = 0.1 * torch.randn(2, 1, 2000, generator=torch.Generator().manual_seed(0))
    normalised = shipped_eq.normalise(random_settings(shipped_eq, 2, seed=7))
    y = network(x, normalised.requires_grad_(), SR)
    y.square().sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in network.parameters()
               if p.dim() == 2)
    with torch.no_grad():
        assert torch.equal(y, shipped_eq.network(x, normalised, SR))


# -- the reverb ---------------------------------------------------------------------------------


def reference_freeverb(
    x: torch.Tensor, feedback: torch.Tensor, damping: torch.Tensor, matrix: torch.Tensor,
    delayed: torch.Tensor, dry: torch.Tensor, rate: int,
) -> torch.Tensor:
    """Freeverb sample by sample in torch, on ``delayed`` ``(N, T)``, the reverberator's input."""
    comb_delays, ap_delays = delays(rate)
    length = x.shape[-1]
    taps = []
    for c in range(2):
        total = 0.0
        for k in range(comb_delays.shape[1]):
            delay, g, d = int(comb_delays[c, k]), feedback[:, c, k], damping[:, c, k]
            into, outs, low = [], [], torch.zeros_like(delayed[:, 0])
            for n in range(length):
                y = into[n - delay] if n >= delay else torch.zeros_like(low)
                low = (1 - d) * y + d * low
                into.append(delayed[:, n] + g * low)
                outs.append(y)
            total = total + torch.stack(outs, -1)
        signal = total
        for p in ap_delays[c]:
            line, outs = [], []
            for n in range(length):
                held = line[n - p] if n >= p else torch.zeros_like(signal[:, 0])
                line.append(signal[:, n] + ALLPASS_FEEDBACK * held)
                outs.append(held - signal[:, n])
            signal = torch.stack(outs, -1)
        taps.append(signal)
    taps = torch.stack(taps, 1)  # (N, 2, T)
    return torch.einsum("noc,nct->not", matrix, taps) + dry[:, None, None] * x.expand(-1, 2, -1)


def delayed_input(x: torch.Tensor, shifts: list[int]) -> torch.Tensor:
    mono = 0.5 * (x[:, 0] + x[:, -1])
    length = x.shape[-1]
    return torch.stack([torch.cat([mono.new_zeros(s), mono[r, : length - s]])
                        for r, s in enumerate(shifts)])


@pytest.mark.parametrize("channels", [1, 2])
def test_freeverbs_output_and_gradients_are_the_references(channels):
    rate, length = 4000, 500  # delay lines of 100 to 150 samples: several trips round each
    generator = torch.Generator().manual_seed(channels)
    x = torch.randn(3, channels, length, generator=generator, dtype=torch.float64)
    feedback = 0.6 + 0.35 * torch.rand(3, 2, 8, generator=generator, dtype=torch.float64)
    damping = 0.6 * torch.rand(3, 2, 8, generator=generator, dtype=torch.float64)
    matrix = torch.randn(3, 2, 2, generator=generator, dtype=torch.float64)
    dry = torch.rand(3, generator=generator, dtype=torch.float64)
    shifts = [0, 7, length]  # the last row's input arrives after its end
    weights = torch.randn(3, 2, length, generator=generator, dtype=torch.float64)
    inputs = [t.clone().requires_grad_() for t in (x, feedback, damping, matrix, dry)]
    delay = torch.tensor(shifts, dtype=torch.float64, requires_grad=True)
    y = freeverb(*inputs[:4], delay, inputs[4], rate)
    grads = torch.autograd.grad((y * weights).sum(), (*inputs, delay))

    reference_inputs = [t.clone().requires_grad_() for t in (x, feedback, damping, matrix, dry)]
    delayed = delayed_input(reference_inputs[0], shifts)
    delayed.retain_grad()
    reference = reference_freeverb(*reference_inputs[:4], delayed, reference_inputs[4], rate)
    (reference * weights).sum().backward()
    assert max_relative(y, reference) < 1e-12
    for got, ref in zip(grads[:5], reference_inputs, strict=True):
        assert max_relative(got, ref.grad) < 1e-10
    # The delay's gradient is that of a true delay: minus the adjoint at the delayed input
    # times the input's central-difference slope there.
    mono = torch.nn.functional.pad(0.5 * (x[:, 0] + x[:, -1]), (1, 1))
    for r, s in enumerate(shifts):
        m = torch.arange(length) - s
        inside = lambda i: (i >= 0) & (i < length)  # noqa: E731
        after = torch.where(inside(m + 1), mono[r, (m + 2).clamp(0, length + 1)], 0.0)
        before = torch.where(inside(m - 1), mono[r, m.clamp(0, length + 1)], 0.0)
        expected = -0.5 * (delayed.grad[r] * (after - before)).sum()
        assert float(grads[5][r]) == pytest.approx(float(expected), rel=1e-10, abs=1e-12)


def test_freeverbs_backward_pass_passes_gradcheck_with_delays():
    torch.manual_seed(4)
    rate = 4000
    x = torch.randn(2, 2, 300, dtype=torch.float64, requires_grad=True)
    feedback = (torch.rand(2, 2, 8, dtype=torch.float64) * 0.3 + 0.6).requires_grad_()
    damping = (torch.rand(2, 2, 8, dtype=torch.float64) * 0.5).requires_grad_()
    matrix = torch.randn(2, 2, 2, dtype=torch.float64, requires_grad=True)
    dry = torch.rand(2, dtype=torch.float64, requires_grad=True)
    delay = torch.tensor([3.0, 40.0], dtype=torch.float64)
    assert torch.autograd.gradcheck(
        lambda *args: freeverb(*args[:4], delay, args[4], rate),
        (x, feedback, damping, matrix, dry), eps=1e-6, atol=1e-6,
    )


def test_the_shipped_reverbs_gradients_are_the_references():
    effect = ReverbEmulator()
    names = [spec.name for spec in effect.params]
    rate, length, shifts = 4000, 400, [0, 40]
    params = random_settings(effect, 2, seed=11).double()
    params[:, names.index("predelay_ms")] = torch.tensor([0.0, 10.0])  # 0 and 40 samples
    x = torch.randn(2, 1, length, generator=torch.Generator().manual_seed(12),
                    dtype=torch.float64)
    weights = torch.randn(2, 2, length, dtype=torch.float64)
    xs, ps = x.clone().requires_grad_(), params.clone().requires_grad_()
    y = effect(xs, ps, rate)
    grad_x, grad_p = torch.autograd.grad((y * weights).sum(), (xs, ps))
    # The reference: the same settings through the network's map, then reference_freeverb.
    xr, pr = x.clone().requires_grad_(), params.clone().requires_grad_()
    inner = effect.network.inner(pr[:, [names.index(n) for n in ("decay_s", "brightness",
                                                                 "width")]], rate)
    mix = pr[:, names.index("mix")]
    gain = inner["gain"] * mix
    front, cross = gain * inner["front"], gain * inner["cross"]
    matrix = torch.stack([torch.stack([front, cross], -1), torch.stack([cross, front], -1)], 1)
    reference = reference_freeverb(xr, inner["feedback"], inner["damping"], matrix,
                                   delayed_input(xr, shifts), 1.0 - mix, rate)
    expected_x, expected_p = torch.autograd.grad((reference * weights).sum(), (xr, pr))
    assert max_relative(y, reference) < 1e-10
    assert max_relative(grad_x, expected_x) < 1e-9
    # Every setting's gradient but the pre-delay's (that of a true delay, checked above).
    keep = [i for i, name in enumerate(names) if name != "predelay_ms"]
    assert max_relative(grad_p[:, keep], expected_p[:, keep]) < 1e-5  # the map runs in float32


# -- the compressor -----------------------------------------------------------------------------


def compressor_signal(rows: int, channels: int, length: int, seed: int,
                      dtype: torch.dtype = torch.float64, floor: bool = True) -> torch.Tensor:
    """Noise whose level jumps every eighth of the length, after a stretch below the floor."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(rows, channels, length, generator=generator, dtype=torch.float64)
    steps = 10.0 ** (-torch.rand(rows, 1, 8, generator=generator, dtype=torch.float64) * 2.0)
    x = x * steps.repeat_interleave(-(-length // 8), dim=-1)[..., :length]
    if floor:  # the detector's level under the floor: no gradient passes there
        x[..., : length // 10] *= 1e-8
    return x.to(dtype)


def channel_compressor(x: torch.Tensor, *settings: torch.Tensor, rate: int = 8000) -> torch.Tensor:
    return functional_compressor.ChannelCompressor.apply(x, *settings, rate, "exponential")


@pytest.mark.parametrize("channels, block, rows_per_slice", [(1, 2048, 2), (2, 16, 1)])
def test_the_compressors_backward_pass_passes_gradcheck(monkeypatch, channels, block,
                                                        rows_per_slice):
    monkeypatch.setattr(functional_compressor, "_ADJOINT_BLOCK", block)  # 16: many blocks
    length = 160
    monkeypatch.setattr(functional_compressor, "ROW_CHUNK_SAMPLES",
                        rows_per_slice * channels * length)  # 1: one row a slice
    # Not under the floor: a step of 1e-6 there would cross it.
    x = compressor_signal(2, channels, length, seed=0, floor=False).requires_grad_()
    settings = [torch.tensor(values, dtype=torch.float64, requires_grad=True) for values in (
        [-20.0, -12.0], [4.0, 2.5], [1.0, 3.0], [20.0, 8.0], [6.0, 12.0], [2.0, -1.0])]
    assert torch.autograd.gradcheck(channel_compressor, (x, *settings), eps=1e-6, atol=1e-6)


@pytest.mark.parametrize("dtype, channels", [(torch.float32, 1), (torch.float32, 2),
                                             (torch.float64, 2)])
def test_the_compressor_kernel_is_comp_dsps_functions_through_autograd(dtype, channels):
    """At a hard knee (the clamp at epsilon), at ratio 1, over several blocks of samples."""
    x = 0.5 * compressor_signal(3, channels, 5000, seed=1, dtype=dtype)
    settings = [torch.tensor(values, dtype=dtype) for values in (
        [-30.0, -20.0, -10.0], [4.0, 1.0, 20.0], [0.5, 10.0, 100.0], [10.0, 100.0, 1000.0],
        [0.0, 6.0, 24.0], [0.0, 3.0, -6.0])]
    weights = torch.randn(x.shape, generator=torch.Generator().manual_seed(2), dtype=dtype)
    (y, *grads), (expected_y, *expected) = outputs_and_gradients(
        (lambda x, *s: channel_compressor(x, *s, rate=44100),
         lambda x, *s: compress(x, *s, 44100, "exponential", stereo_link=False)),
        weights, x, *settings)
    assert torch.equal(y, expected_y)
    for got, want in zip(grads, expected, strict=True):
        assert got.dtype == dtype
        if want.abs().max() == 0:  # the ratio-1 row's threshold and knee: no gradient at all
            assert got.abs().max() == 0
        else:
            assert max_relative(got.double(), want.double()) < (
                1e-5 if dtype == torch.float32 else 1e-10)


def random_compressor(layers: int, seed: int) -> FeedForwardCompressor:
    network = FeedForwardCompressor(GreyBoxConfig("comp_feedforward", 5, channels=8,
                                                  layers=layers), CompressorEmulator.params)
    torch.manual_seed(seed)
    with torch.no_grad():
        for parameter in network.parameters():
            parameter.copy_(0.5 * torch.randn_like(parameter))
    return network.requires_grad_(False)


@pytest.mark.parametrize("layers", [1, 2, 3])
def test_the_compressor_settings_compiled_gradient_passes_gradcheck(monkeypatch, layers):
    """The map in double precision too (it runs in float32 in the emulator)."""
    monkeypatch.setattr(greybox, "_centred", lambda normalised: 2.0 * normalised - 1.0)
    network = random_compressor(layers, seed=layers).double()
    normalised = torch.rand(4, 6, generator=torch.Generator().manual_seed(layers),
                            dtype=torch.float64)
    normalised[0, 4] = 0.0  # the lowest knee: the softplus well below zero
    normalised = normalised.clamp(0.02, 0.98).requires_grad_()  # away from the clamps' ends
    assert torch.autograd.gradcheck(
        lambda n: greybox._FrozenCompressorSettings.apply(n, network), (normalised,),
        eps=1e-6, atol=1e-6,
    )


@pytest.mark.parametrize("layers", [1, 2, 3])
def test_the_compressor_settings_compiled_gradient_is_autograds(layers):
    network = random_compressor(layers, seed=10 + layers)
    normalised = torch.rand(6, 6, generator=torch.Generator().manual_seed(layers),
                            dtype=torch.float64)
    normalised[0] = 0.0  # at the clamps' ends: no gradient there, as from torch's clamp
    normalised[1] = 1.0
    normalised[2, 4] = 1.0  # the widest knee: softplus past its threshold, the identity
    grad = torch.randn(6, 6, dtype=torch.float64)
    given = normalised.clone().requires_grad_()
    settings = greybox._FrozenCompressorSettings.apply(given, network)
    (compiled,) = torch.autograd.grad((torch.stack(settings, 1) * grad).sum(), given)
    given = normalised.clone().requires_grad_()
    expected_settings = network.inner_settings(given)
    expected_settings = torch.stack([expected_settings[name] for name in network.names], 1)
    (expected,) = torch.autograd.grad((expected_settings * grad).sum(), given)
    assert torch.equal(torch.stack(settings, 1), expected_settings)
    assert max_relative(compiled, expected) < 1e-5  # autograd runs the map in float32


@pytest.fixture(scope="module")
def shipped_comp():
    return CompressorEmulator()


def reference_comp(effect, x: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
    """The compressor as it was: its settings through autograd, then ``comp:dsp``'s functions
    (a stereo track's detector linked)."""
    p = effect.network.inner_settings(effect.normalise(params).to(x.dtype))
    return compress(x, *(p[name] for name in effect.network.names), SR, "exponential",
                    stereo_link=x.shape[1] > 1)


@pytest.mark.parametrize("channels, dtype", [(1, torch.float32), (2, torch.float32),
                                             (1, torch.float64)])
def test_the_shipped_compressor_computes_what_it_did_with_the_same_gradients(
    shipped_comp, channels, dtype
):
    for seed in range(3):
        params = random_settings(shipped_comp, 4, seed).to(dtype)
        params[0] = torch.tensor([spec.minimum for spec in shipped_comp.params])  # the ends
        params[1] = torch.tensor([spec.maximum for spec in shipped_comp.params])
        x = 0.3 * compressor_signal(4, channels, 6000, seed=seed, dtype=dtype)
        weights = torch.randn(4, channels, 6000, dtype=dtype)
        (y, grad_x, grad_p), (y_old, grad_x_old, grad_p_old) = outputs_and_gradients(
            (lambda x, p: shipped_comp(x, p, SR), lambda x, p: reference_comp(shipped_comp, x, p)),
            weights, x, params)
        assert float((y - y_old).abs().max()) <= 1e-5  # in fact the same samples
        assert torch.equal(y, y_old)
        assert grad_x.dtype == grad_p.dtype == dtype
        assert max_relative(grad_x, grad_x_old) < 1e-5
        assert max_relative(grad_p, grad_p_old) < 1e-4


def test_with_a_trainable_map_the_compressor_reaches_the_weights(shipped_comp):
    network = FeedForwardCompressor(shipped_comp.network.config, shipped_comp.params)
    network.load_state_dict(shipped_comp.network.state_dict())
    x = 0.3 * compressor_signal(2, 1, 2000, seed=3, dtype=torch.float32)
    normalised = shipped_comp.normalise(random_settings(shipped_comp, 2, seed=8))
    y = network(x, normalised.requires_grad_(), SR)
    y.square().sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in network.parameters()
               if p.dim() == 2)
    with torch.no_grad():
        assert torch.equal(y, shipped_comp.network(x, normalised, SR))


def test_an_empty_batch_passes_the_compressors_backward_pass(shipped_comp):
    x = torch.zeros(0, 2, 100, requires_grad=True)
    params = shipped_comp.default_params(1)[:0].requires_grad_()
    y = shipped_comp(x, params, SR)
    assert y.shape == (0, 2, 100)
    y.sum().backward()
    assert x.grad.shape == x.shape and params.grad.shape == params.shape


# -- the DSP effects, through the same adjoints ---------------------------------------------------


def test_eq_dsp_and_eq_tcn_share_one_cascade_adjoint():
    """One implementation: the emulator's filtering is eq:dsp's autograd function."""
    assert greybox.SectionsCascade is functional_biquad.SectionsCascade
    assert not hasattr(greybox, "_sections_adjoint")
    assert greybox.ChannelCompressor is functional_compressor.ChannelCompressor
    assert not hasattr(greybox, "_compressor_adjoint")


@pytest.fixture(scope="module")
def eq_dsp():
    from console_effects.eq import ParametricEQ

    return ParametricEQ()


def reference_eq_dsp(effect, x: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
    """eq:dsp through autograd: its cookbook design, the sections one by one with lfilter."""
    b, a = effect.coefficients(params, SR)
    c = torch.cat([b, a[..., 1:]], -1).repeat_interleave(x.shape[1], dim=0)
    y = lfilter_cascade(x.reshape(-1, x.shape[-1]), c)
    return y.reshape(x.shape)


@pytest.mark.parametrize("channels, dtype", [(1, torch.float32), (2, torch.float32),
                                             (1, torch.float64), (2, torch.float64)])
def test_eq_dsps_gradients_are_the_references(eq_dsp, channels, dtype):
    """Over several blocks of the adjoint; within 1e-6 (float64) and 1e-5 (float32) relative."""
    for seed in range(2):
        params = random_settings(eq_dsp, 3, seed).to(dtype)
        x = 0.1 * torch.randn(3, channels, 5000, generator=torch.Generator().manual_seed(seed))
        x = x.to(dtype)
        weights = torch.randn(3, channels, 5000, dtype=dtype)
        xs, ps = x.clone().requires_grad_(), params.clone().requires_grad_()
        y = eq_dsp(xs, ps, SR)
        grads = torch.autograd.grad((y * weights).sum(), (xs, ps))
        with torch.no_grad():
            assert torch.equal(y.detach(), eq_dsp(x, params, SR))  # the forward pass unchanged
        xr, pr = x.double().requires_grad_(), params.double().requires_grad_()
        reference = reference_eq_dsp(eq_dsp, xr, pr)
        expected = torch.autograd.grad((reference * weights.double()).sum(), (xr, pr))
        tolerance = 1e-6 if dtype == torch.float64 else 1e-5
        assert y.dtype == grads[0].dtype == grads[1].dtype == dtype
        assert max_relative(y.double(), reference) < tolerance
        for got, want in zip(grads, expected, strict=True):
            assert max_relative(got.double(), want) < tolerance


@pytest.mark.parametrize("block", [16, 2048])
def test_eq_dsp_passes_gradcheck(monkeypatch, eq_dsp, block):
    monkeypatch.setattr(functional_biquad, "_ADJOINT_BLOCK", block)  # 16: many blocks in 60
    params = random_settings(eq_dsp, 2, seed=4).double()
    params[:, 0::3] = params[:, 0::3].clamp(max=3000.0)  # well below the 0.49 fs clamp at 8 kHz
    x = torch.randn(2, 2, 60, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda x, p: eq_dsp(x, p, 8000),
                                    (x.requires_grad_(), params.requires_grad_()),
                                    eps=1e-6, atol=1e-5)


def comp_dsp(**options):
    from console_effects.compressor import Compressor

    return Compressor(**options)


@pytest.mark.parametrize("options, channels, dtype", [
    ({}, 1, torch.float32), ({}, 1, torch.float64), ({"stereo_link": False}, 2, torch.float32),
    ({"stereo_link": False, "time_constant": "juce"}, 2, torch.float64),
    ({}, 2, torch.float32),  # linked stereo: autograd's graph, as before
])
def test_comp_dsps_outputs_and_gradients_are_those_of_its_functions(options, channels, dtype):
    """The compiled backward pass against compress() through autograd: same samples."""
    effect = comp_dsp(**options)
    for seed in range(2):
        params = random_settings(effect, 4, seed).to(dtype)
        params[0] = torch.tensor([spec.minimum for spec in effect.params])  # hard knee, ratio 1
        params[1] = torch.tensor([spec.maximum for spec in effect.params])
        x = 0.3 * compressor_signal(4, channels, 5000, seed=seed, dtype=dtype)
        weights = torch.randn(4, channels, 5000, dtype=dtype)
        (y, grad_x, grad_p), (y_old, grad_x_old, grad_p_old) = outputs_and_gradients(
            (lambda x, p: effect(x, p, SR), lambda x, p: compress(
                x, *p.unbind(1), SR, effect.time_constant, effect.stereo_link)),
            weights, x, params)
        assert torch.equal(y, y_old)
        assert grad_x.dtype == grad_p.dtype == dtype
        tolerance = 1e-6 if dtype == torch.float64 else 1e-5
        assert max_relative(grad_x, grad_x_old) < tolerance
        assert max_relative(grad_p, grad_p_old) < tolerance


@pytest.mark.parametrize("options, channels", [
    ({}, 1), ({"time_constant": "juce"}, 1), ({"stereo_link": False}, 2)])
def test_comp_dsp_passes_gradcheck(monkeypatch, options, channels):
    monkeypatch.setattr(functional_compressor, "_ADJOINT_BLOCK", 16)  # many blocks in 160
    effect = comp_dsp(**options)
    x = compressor_signal(2, channels, 160, seed=6, floor=False).requires_grad_()
    params = torch.tensor([[-20.0, 4.0, 1.0, 20.0, 6.0, 2.0], [-12.0, 2.5, 3.0, 80.0, 0.0, 0.0]],
                          dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, p: effect(x, p, 8000), (x, params), eps=1e-6,
                                    atol=1e-6)


def test_comp_dsp_without_gradients_or_off_the_cpu_path_is_compress():
    effect = comp_dsp()
    x = 0.3 * compressor_signal(2, 1, 800, seed=7, dtype=torch.float32)
    params = effect.default_params(2)
    with torch.no_grad():
        expected = compress(x, *params.unbind(1), SR, "exponential", True)
        assert torch.equal(effect(x, params, SR), expected)
    y = effect(x.requires_grad_(), params, SR)
    assert y.grad_fn is not None and "ChannelCompressor" in type(y.grad_fn).__name__
    assert torch.equal(y.detach(), expected)
