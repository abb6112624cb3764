"""Which exact, differentiable biquad-cascade filter is fastest on a CPU?

Times every candidate on the parametric EQ's workload (16 tracks x 3 s at
44.1 kHz, five cookbook sections per track), forward and forward+backward,
and measures its accuracy against SciPy's float64 ``sosfilt`` as an SNR in dB,
both for random settings and for the hardest corner (a 20 Hz, Q = 10, +24 dB
bell). Run: ``python benchmarks/eq_filter_candidates.py [--threads 2]``.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as nnf
import torchaudio.functional as taf
from scipy import signal

from console_effects.functional.biquad import (
    biquad_cascade,
    biquad_frequency_response,
    high_shelf_coefficients,
    low_shelf_coefficients,
    peaking_coefficients,
)

from timing import timed

SAMPLE_RATE = 44100
TRACKS, SECONDS = 16, 3.0  # defaults; --tracks and --seconds change them
Cascade = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def eq_coefficients(settings: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(N, 5, 3)`` b and a from ``(N, 5, 3)`` rows of (freq_hz, gain_db, q)."""
    makers = [low_shelf_coefficients] + [peaking_coefficients] * 3 + [high_shelf_coefficients]
    pairs = [
        make(settings[:, s, 0], settings[:, s, 1], settings[:, s, 2], SAMPLE_RATE)
        for s, make in enumerate(makers)
    ]
    return torch.stack([p[0] for p in pairs], 1), torch.stack([p[1] for p in pairs], 1)


def random_settings(n: int, generator: torch.Generator) -> torch.Tensor:
    u = torch.rand(n, 5, 3, generator=generator, dtype=torch.float64)
    lows = torch.tensor([20.0, 20.0, 20.0, 20.0, 1000.0], dtype=torch.float64)
    highs = torch.tensor([1000.0, 20000.0, 20000.0, 20000.0, 20000.0], dtype=torch.float64)
    freq = torch.exp(lows.log() + u[..., 0] * (highs.log() - lows.log()))
    gain = -24.0 + 48.0 * u[..., 1]
    q = torch.exp(math.log(0.1) + u[..., 2] * math.log(100.0))
    q[:, [0, 4]] = q[:, [0, 4]].clamp(0.25, 2.0)
    return torch.stack([freq, gain, q], dim=-1)


def corner_settings(n: int) -> torch.Tensor:
    settings = torch.tensor([[100.0, 0.0, 0.707]] * 5, dtype=torch.float64).repeat(n, 1, 1)
    settings[:, 1] = torch.tensor([20.0, 24.0, 10.0], dtype=torch.float64)
    return settings


# -- candidates ------------------------------------------------------------------------


def torchaudio_sections(dtype: torch.dtype) -> Cascade:
    def run(x, b, a):
        y = x.to(dtype).transpose(0, 1)
        for s in range(b.shape[1]):
            y = taf.lfilter(y, a[:, s].to(dtype), b[:, s].to(dtype), clamp=False)
        return y.transpose(0, 1).to(x.dtype)

    return run


def torchaudio_single_polynomial(x, b, a):
    """The five sections multiplied into one order-10 filter (one recursion)."""
    bp, ap = b[:, 0], a[:, 0]
    for s in range(1, b.shape[1]):
        bp = nnf.conv1d(bp[None], b[:, s, None].flip(-1), padding=2, groups=bp.shape[0])[0]
        ap = nnf.conv1d(ap[None], a[:, s, None].flip(-1), padding=2, groups=ap.shape[0])[0]
    y = taf.lfilter(x.double().transpose(0, 1), ap, bp, clamp=False)
    return y.transpose(0, 1).to(x.dtype)


def philtorch_sections(backend: str, dtype: torch.dtype) -> Cascade:
    from philtorch.lti import lfilter

    def run(x, b, a):
        n, c, t = x.shape
        y = x.to(dtype).reshape(n * c, t)
        for s in range(b.shape[1]):
            bs = b[:, s].repeat_interleave(c, 0).to(dtype)
            as_ = a[:, s, 1:].repeat_interleave(c, 0).to(dtype)
            y = lfilter(bs, as_, y, backend=backend)
        return y.reshape(n, c, t).to(x.dtype)

    return run


def torchlpc_sections(x, b, a):
    """All-pole part by torchlpc's sample-wise recursion, zeros by a grouped convolution."""
    from torchlpc import sample_wise_lpc

    n, c, t = x.shape
    y = x.double().reshape(n * c, t)
    for s in range(b.shape[1]):
        bs = b[:, s].repeat_interleave(c, 0)
        fir = nnf.conv1d(nnf.pad(y[None], (2, 0)), bs.flip(-1)[:, None], groups=n * c)[0]
        coeffs = a[:, s, 1:].repeat_interleave(c, 0)[:, None, :].expand(-1, t, -1)
        y = sample_wise_lpc(fir, coeffs)
    return y.reshape(n, c, t).to(x.dtype)


def frequency_sampling(x, b, a):
    """Multiply spectra on a grid 2x the signal length (the tail past that is lost or wraps)."""
    t = x.shape[-1]
    n_fft = 1 << math.ceil(math.log2(2 * t))
    freqs = torch.fft.rfftfreq(n_fft, d=1.0 / SAMPLE_RATE, dtype=torch.float64)
    response = biquad_frequency_response(b, a, freqs, SAMPLE_RATE).prod(dim=1)  # (N, F)
    spectrum = torch.fft.rfft(x.double(), n=n_fft) * response[:, None, :]
    return torch.fft.irfft(spectrum, n=n_fft)[..., :t].to(x.dtype)


def parallel_scan(x, b, a):
    """Partial fractions per section, each complex pole run as a log-depth (Hillis-Steele) scan."""
    y = x.double()
    for s in range(b.shape[1]):
        bs, as_ = b[:, s], a[:, s]
        disc = (as_[:, 1].square() - 4.0 * as_[:, 2]).to(torch.complex128)
        p1 = (-as_[:, 1] + torch.sqrt(disc)) / 2.0
        p2 = (-as_[:, 1] - torch.sqrt(disc)) / 2.0
        # H = b2/a2 + (r1 z)/(z - p1) + (r2 z)/(z - p2) form via residues of H(z)/z.
        direct = bs[:, 2] / as_[:, 2]

        def numerator(z, bs=bs):
            return bs[:, 0] * z * z + bs[:, 1] * z + bs[:, 2]

        r1 = numerator(p1) / (p1 * (p1 - p2))
        r2 = numerator(p2) / (p2 * (p2 - p1))
        out = direct[:, None, None] * y
        for pole, residue in ((p1, r1), (p2, r2)):
            h = y.to(torch.complex128)
            step, power = 1, pole[:, None, None]
            while step < h.shape[-1]:
                h = torch.cat([h[..., :step], h[..., step:] + power * h[..., :-step]], dim=-1)
                power, step = power * power, step * 2
            out = out + (residue[:, None, None] * h).real
        y = out
    return y.to(x.dtype)


def reference(x: torch.Tensor, b: torch.Tensor, a: torch.Tensor) -> np.ndarray:
    out = np.empty(x.shape, dtype=np.float64)
    for i in range(x.shape[0]):
        sos = np.concatenate([b[i].numpy(), a[i].numpy()], axis=-1)
        out[i] = signal.sosfilt(sos, x[i].double().numpy(), axis=-1)
    return out


def snr_db(estimate: torch.Tensor, target: np.ndarray) -> float:
    est = estimate.detach().double().numpy()
    noise = np.sum((est - target) ** 2)
    if not np.isfinite(noise):
        return float("-inf")
    return float(10 * np.log10(np.sum(target**2) / max(noise, 1e-300)))




def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", nargs="*", help="run only these candidates")
    parser.add_argument("--tracks", type=int, default=TRACKS)
    parser.add_argument("--seconds", type=float, default=SECONDS)
    args = parser.parse_args()
    tracks, seconds = args.tracks, args.seconds
    torch.set_num_threads(args.threads)
    generator = torch.Generator().manual_seed(0)
    samples = int(seconds * SAMPLE_RATE)
    x = 0.1 * torch.randn(tracks, 1, samples, generator=generator)
    settings = random_settings(tracks, generator)
    b_rand, a_rand = eq_coefficients(settings)
    b_corner, a_corner = eq_coefficients(corner_settings(tracks))
    ref_rand, ref_corner = reference(x, b_rand, a_rand), reference(x, b_corner, a_corner)

    candidates: dict[str, Cascade] = {
        "chosen: sliding 3-tap FIR + torchaudio IIR loop, float64": biquad_cascade,
        "torchaudio.lfilter, 5 sections, float32": torchaudio_sections(torch.float32),
        "torchaudio.lfilter, 5 sections, float64": torchaudio_sections(torch.float64),
        "torchaudio.lfilter, one order-10 filter, float64": torchaudio_single_polynomial,
        "philtorch.lti.lfilter ssm, float32": philtorch_sections("ssm", torch.float32),
        "philtorch.lti.lfilter ssm, float64": philtorch_sections("ssm", torch.float64),
        "philtorch.lti.lfilter diag_ssm, float64": philtorch_sections("diag_ssm", torch.float64),
        "torchlpc.sample_wise_lpc + conv, float64": torchlpc_sections,
        "parallel scan (partial fractions), float64": parallel_scan,
        "frequency sampling (FFT, 2x length), float64": frequency_sampling,
    }
    print(f"biquad cascade candidates: {tracks} tracks x {seconds:g} s at {SAMPLE_RATE} Hz, "
          f"5 sections, torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"median of {args.repeats}")
    print(f"{'candidate':<50} {'fwd s':>8} {'fwd+bwd s':>10} {'SNR rand dB':>12} "
          f"{'SNR corner dB':>14}")
    for label, cascade in candidates.items():
        if args.only and not any(key in label for key in args.only):
            continue
        try:
            params = settings.clone().requires_grad_(True)
            audio = x.clone().requires_grad_(True)

            def forward(cascade=cascade, params=params, audio=audio):
                with torch.no_grad():
                    b, a = eq_coefficients(params)
                    cascade(audio, b, a)

            def forward_backward(cascade=cascade, params=params, audio=audio):
                b, a = eq_coefficients(params)
                cascade(audio, b, a).square().mean().backward()

            t_fwd = timed(forward, args.repeats)
            t_bwd = timed(forward_backward, args.repeats)
            with torch.no_grad():
                snr_rand = snr_db(cascade(x, b_rand, a_rand), ref_rand)
                snr_corner = snr_db(cascade(x, b_corner, a_corner), ref_corner)
            print(f"{label:<50} {t_fwd:8.3f} {t_bwd:10.3f} {snr_rand:12.1f} {snr_corner:14.1f}",
                  flush=True)
        except Exception as exc:  # a candidate that cannot run is a result too
            print(f"{label:<50} failed: {type(exc).__name__}: {str(exc)[:80]}", flush=True)


if __name__ == "__main__":
    main()
