"""The grey-box emulators' compiled backward passes (``eq:tcn``, ``reverb:tcn``) against references.

Both emulators differentiate through hand-written adjoints (compiled loops) rather
than autograd's graph. Here each is checked against a straightforward reference
that autograd differentiates: the EQ's sections filtered one by one with
torchaudio's ``lfilter`` and its design through autograd, and a sample-by-sample
torch Freeverb; with ``gradcheck`` on the kernels in double precision; and the
EQ's forward pass against the implementation it had before (``eq:dsp``'s
cascade), which it must match sample for sample.
"""

from __future__ import annotations

import pytest
import torch
import torchaudio.functional as taf

import console_effects.greybox as greybox
from console_effects.emulator import EQEmulator
from console_effects.functional.biquad import biquad_cascade
from console_effects.functional.freeverb import ALLPASS_FEEDBACK, delays, freeverb
from console_effects.greybox import BiquadSections, GreyBoxConfig
from console_effects.reverb_emulator import ReverbEmulator

SR = 44100


def random_settings(effect, rows: int, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.stack([spec.sample(rows, generator=generator) for spec in effect.params], 1)


def max_relative(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.detach() - b.detach()).abs().max() / b.detach().abs().max())


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
    monkeypatch.setattr(greybox, "_ADJOINT_BLOCK", block)  # 16: many blocks in 100 samples
    torch.manual_seed(0)
    x = torch.randn(2, 100, dtype=torch.float64, requires_grad=True)
    c = stable_sections(2, seed=1).requires_grad_()
    assert torch.autograd.gradcheck(
        lambda x, c: greybox._SectionsCascade.apply(x, c, True), (x, c), eps=1e-6, atol=1e-6
    )


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_the_cascade_matches_lfilter_and_its_gradients(dtype):
    torch.manual_seed(2)
    x = (0.1 * torch.randn(3, 5000)).to(dtype).requires_grad_()  # three blocks of 2048
    c = stable_sections(3, seed=3).requires_grad_()
    weights = torch.randn(3, 5000, dtype=torch.float64)
    y = greybox._SectionsCascade.apply(x, c, True)
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
        runs = []
        for run in (shipped_eq, lambda x, p, rate: reference_eq(shipped_eq, x, p)):
            xs, ps = x.clone().requires_grad_(), params.clone().requires_grad_()
            y = run(xs, ps, SR)
            runs.append((y.detach(), *torch.autograd.grad((y * weights).sum(), (xs, ps))))
        (y, grad_x, grad_p), (y_old, grad_x_old, grad_p_old) = runs
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
