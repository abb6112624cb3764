"""Every metric ``console evaluate`` reports, in one list; lower is better for all."""

from __future__ import annotations

import attrs
import numpy as np
import torch

from console.evaluation.loudness_error import loudness_error_db
from console.evaluation.spectral_balance import spectral_balance_error_db
from console.evaluation.stereo_stft import stereo_stft_distance
from console.evaluation.stereo_width import stereo_width_error


@attrs.frozen
class MetricInfo:
    """A column of the results: its key, a short label and its unit."""

    key: str
    label: str
    unit: str
    description: str


METRICS: tuple[MetricInfo, ...] = (
    MetricInfo("stft", "MR-STFT", "", "sum + difference multi-resolution STFT distance of the "
               "mixes at equal loudness (the paper's objective)"),
    MetricInfo("loudness_db", "loudness err", "dB", "absolute difference of integrated "
               "loudness (ITU-R BS.1770)"),
    MetricInfo("balance_db", "balance err", "dB", "mean over bands of the absolute error of "
               "each band's share of the energy"),
    MetricInfo("width", "width err", "", "absolute error of side / total energy"),
)

BAND_PREFIX = "balance_"


def compare_mixes(mix: torch.Tensor, reference: torch.Tensor, sample_rate: int) -> dict[str, float]:
    """Every metric of a ``(2, T)`` mix against its ``(2, T)`` reference.

    Returns the :data:`METRICS` keys, plus ``balance_<band>`` for each band's error.
    """
    if mix.shape != reference.shape or mix.dim() != 2 or mix.shape[0] != 2:
        raise ValueError(
            f"Mixes must both be (2, T) of one length, got {tuple(mix.shape)} and "
            f"{tuple(reference.shape)}."
        )
    mix, reference = mix.detach().cpu().float(), reference.detach().cpu().float()
    bands = spectral_balance_error_db(mix, reference, sample_rate)
    scores = {
        "stft": stereo_stft_distance(mix, reference, sample_rate),
        "loudness_db": loudness_error_db(mix, reference, sample_rate),
        "balance_db": float(np.mean(list(bands.values()))),
        "width": stereo_width_error(mix, reference),
    }
    scores.update({f"{BAND_PREFIX}{name}": value for name, value in bands.items()})
    return scores
