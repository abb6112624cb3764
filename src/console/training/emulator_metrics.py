"""How close an emulator comes to its reference: MR-STFT error and SNR, beside bypass."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import attrs
import auraloss
import torch


@attrs.frozen
class Fidelity:
    """Mean MR-STFT error (lower is better) and SNR in dB (higher is better) over examples."""

    mrstft: float
    snr_db: float


def snr_db(estimate: torch.Tensor, reference: torch.Tensor) -> float:
    """Reference energy over error energy, in dB, over the whole batch."""
    noise = (estimate.double() - reference.double()).square().sum()
    signal = reference.double().square().sum()
    return float(10.0 * torch.log10(signal / noise.clamp_min(1e-20)))


def fidelity(
    process: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    batches: Iterable[dict[str, torch.Tensor]],
) -> Fidelity:
    """Score ``process(x, params)`` against each batch's ``y`` (mean over batches).

    ``process`` may return mono for a stereo reference (bypass does); it is
    then compared as the same signal on both channels.
    """
    stft = auraloss.freq.MultiResolutionSTFTLoss()
    errors, snrs = [], []
    with torch.no_grad():
        for batch in batches:
            estimate = process(batch["x"], batch["params"])
            target = batch["y"]
            estimate = estimate.expand_as(target).contiguous()
            errors.append(float(stft(estimate, target)))
            snrs.append(snr_db(estimate, target))
    if not errors:
        return Fidelity(math.nan, math.nan)
    return Fidelity(sum(errors) / len(errors), sum(snrs) / len(snrs))


def compare_on(
    dataset: torch.utils.data.Dataset,
    candidates: dict[str, torch.nn.Module | None],
    sample_rate: int,
    batch_size: int = 8,
) -> dict[str, Fidelity]:
    """Fidelity of each candidate effect (``None`` means bypass) on a dataset's pairs."""
    from console.training.emulator_data import collate_pairs

    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, collate_fn=collate_pairs)
    batches = list(loader)
    results = {}
    for name, effect in candidates.items():
        if effect is None:
            results[name] = fidelity(lambda x, p: x, batches)
        else:
            results[name] = fidelity(lambda x, p, e=effect: e(x, p, sample_rate), batches)
    return results
