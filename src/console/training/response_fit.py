"""Stage one of training a linear emulator: fit its sections to the reference's responses.

An effect that is linear and time-invariant for fixed settings (the EQ) is
known completely by its impulse response. So before any audio, each section
of a sectioned linear emulator (a network that is a :class:`SectionedNetwork`,
such as the EQ emulator's) is fitted to the reference's frequency response
with that one section set at random and the others flat: the reference
processes a unit impulse, its FFT is read at log-spaced frequencies from
20 Hz to 20 kHz, and the network's exact transfer function
(:meth:`SectionedNetwork.section_response`) is matched there in dB and as a
complex ratio. A step costs no more than a few small
matrix products, whatever the receptive field, which is what lets a CPU train
an EQ emulator in minutes; ``console train-emulator`` may then tune the result
on audio.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, Protocol, runtime_checkable

import attrs
import numpy as np
import torch
from tqdm import tqdm

from console.params import normalise_columns

#: Length of the reference's impulse responses: 1.5 s at 44.1 kHz, long after a
#: 20 Hz bell of Q 10 has died away.
IMPULSE_SAMPLES = 65536
#: Log-spaced frequencies the responses are compared at (duplicated FFT bins dropped).
FREQUENCIES = 384
FREQUENCY_RANGE_HZ = (20.0, 20000.0)

Reference = Callable[[np.ndarray, np.ndarray], np.ndarray]


@runtime_checkable
class SectionedNetwork(Protocol):
    """What an emulator's network offers to be fitted here, section by section.

    An effect plugin provides it; core names no plugin. ``config.num_params``
    is the number of settings per section, which are consecutive columns of
    the effect's ParamSpecs in section order.
    """

    #: Kind of each section in filter order; sections of one kind share ``sections[kind]``.
    section_kinds: tuple[str, ...]
    sections: Mapping[str, torch.nn.Module]
    config: Any

    def section_response(
        self, kind: str, settings: torch.Tensor, omega: torch.Tensor, sample_rate: float
    ) -> torch.Tensor:
        """``(N, F)`` complex response of one kind of section at ``omega`` rad/sample.

        ``settings`` are the section's normalised settings ``(N, num_params)``;
        ``sample_rate`` is the rate ``omega`` refers to (the reference's).
        """
        ...


def fits_responses(emulator: torch.nn.Module) -> bool:
    """Whether ``emulator`` is linear and sectioned, so its responses can be fitted."""
    return isinstance(getattr(emulator, "network", None), SectionedNetwork)


@attrs.frozen
class ResponseFit:
    """Mean absolute dB error of a section's fitted response and of bypass, on held-out settings."""

    kind: str
    db_error: float
    bypass_db_error: float


def fft_bins(sample_rate: int, n_fft: int = IMPULSE_SAMPLES) -> torch.Tensor:
    """Log-spaced rFFT bin indices from 20 Hz to 20 kHz, without repeats."""
    low, high = (math.log10(f) for f in FREQUENCY_RANGE_HZ)
    hz = torch.logspace(low, high, FREQUENCIES, dtype=torch.float64)
    return torch.unique(torch.round(hz / sample_rate * n_fft).long())


def section_responses(
    emulator: torch.nn.Module,
    reference: Reference,
    section: int,
    settings: int,
    seed: int,
    bins: torch.Tensor,
    impulse_samples: int = IMPULSE_SAMPLES,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``settings`` random settings of one section (the rest flat) and the reference's response.

    Returns the section's normalised settings ``(S, 3)`` and the complex
    response ``(S, F)`` at ``bins``.
    """
    network = emulator.network
    per = network.config.num_params
    specs = emulator.params[section * per : (section + 1) * per]
    generator = torch.Generator().manual_seed(seed)
    drawn = torch.stack([spec.sample(settings, generator=generator) for spec in specs], dim=1)
    flat = np.array([spec.default for spec in emulator.params], dtype=np.float64)
    for i, spec in enumerate(emulator.params):
        if spec.unit == "dB":
            flat[i] = 0.0  # a cookbook section at 0 dB passes its input unchanged
    impulse = np.zeros(impulse_samples, dtype=np.float32)
    impulse[0] = 1.0
    responses = []
    for row in drawn.tolist():
        params = flat.copy()
        params[section * per : (section + 1) * per] = row
        responses.append(np.asarray(reference(impulse, params.astype(np.float32)))[0])
    spectra = torch.fft.rfft(torch.from_numpy(np.stack(responses)).double(), dim=-1)[:, bins]
    normalised = normalise_columns(specs, drawn)
    return normalised.float(), spectra


def mean_db_difference(estimate: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference of two complex responses' magnitudes, in dB."""
    db = 20.0 * (estimate.abs().clamp_min(1e-5).log10() - target.abs().clamp_min(1e-5).log10())
    return db.abs().mean()


def response_loss(estimate: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean absolute dB error / 6 plus mean complex error relative to the target's magnitude."""
    relative = (estimate - target).abs() / target.abs().clamp_min(1e-3)
    return mean_db_difference(estimate, target) / 6.0 + relative.mean()


def fit_sections(
    emulator: torch.nn.Module,
    reference: Reference,
    steps: int,
    sample_rate: int,
    settings: int = 4000,
    batch_size: int = 64,
    lr: float = 2e-3,
    seed: int = 0,
    progress: bool = True,
    held_out: int = 256,
    impulse_samples: int = IMPULSE_SAMPLES,
) -> list[ResponseFit]:
    """Fit every kind of section of ``emulator.network`` for ``steps`` steps; held-out scores.

    ``emulator`` is an effect whose network is a :class:`SectionedNetwork`;
    the first section of each kind supplies its settings ranges (the EQ's bells
    share theirs).
    """
    network = emulator.network
    if not isinstance(network, SectionedNetwork):
        raise TypeError(f"{type(emulator).__name__}'s network has no sections to fit.")
    section_kinds = tuple(network.section_kinds)
    device = next(network.parameters()).device
    bins = fft_bins(sample_rate, impulse_samples)
    omega = (2.0 * math.pi * bins.double() / impulse_samples).to(device)
    kinds = {kind: section_kinds.index(kind) for kind in dict.fromkeys(section_kinds)}
    tables = {}
    for n, (kind, section) in enumerate(kinds.items()):
        train = section_responses(
            emulator, reference, section, settings, seed + 2 * n, bins, impulse_samples
        )
        held = section_responses(
            emulator, reference, section, held_out, seed + 2 * n + 1, bins, impulse_samples
        )
        tables[kind] = tuple(  # complex64 responses: single precision is plenty here
            t.to(device, torch.complex64 if t.is_complex() else torch.float32)
            for t in (*train, *held)
        )
    parameters = [p for kind in kinds for p in network.sections[kind].parameters()]
    optimiser = torch.optim.AdamW(parameters, lr=lr, weight_decay=0.0)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, max(1, steps))
    generator = torch.Generator().manual_seed(seed)
    bar = tqdm(range(steps), desc="fitting responses", disable=not progress, unit="step")
    for _ in bar:
        loss = torch.zeros((), device=device)
        for kind, (settings_, responses, _, _) in tables.items():
            pick = torch.randint(settings_.shape[0], (batch_size,), generator=generator).to(device)
            estimate = network.section_response(kind, settings_[pick], omega, sample_rate)
            loss = loss + response_loss(estimate, responses[pick])
        optimiser.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(parameters, 1.0)
        optimiser.step()
        schedule.step()
        bar.set_postfix(loss=f"{loss.item():.3f}")
    results = []
    with torch.no_grad():
        for kind, (_, _, settings_, responses) in tables.items():
            estimate = network.section_response(kind, settings_, omega, sample_rate)
            results.append(ResponseFit(
                kind, float(mean_db_difference(estimate, responses)),
                float(mean_db_difference(torch.ones_like(responses), responses)),
            ))
    return results
