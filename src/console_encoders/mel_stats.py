"""A track encoder small enough to train on a CPU: statistics of the log-mel spectrogram.

What a mixing decision needs from a track is mostly its spectrum and how it
moves in time: a kick is low and sparse, a hi-hat high and busy, a pad wide
and steady. Per mel band this encoder takes the mean, the spread and the mean
rise from frame to frame (onsets) of VGGish's log-mel front end, plus how
often the track is active, and maps them through a small MLP. It has about
60 k weights where the published VGGish has 72 M, so a console built on it
trains in minutes on two cores.
"""

from __future__ import annotations

import torch
from torch import nn

from console.encoder import Encoder
from console_encoders.log_mel import LOG_OFFSET, VGGISH_BANDS, LogMelExamples

#: A frame this far (in natural-log units) above the floor of ``log(0.01)`` counts as active.
ACTIVE_ABOVE_FLOOR = 2.0


def log_mel_statistics(logmel: torch.Tensor) -> torch.Tensor:
    """``(N, frames, bands)`` log-mel to ``(N, 3 * bands + 1)`` summary statistics."""
    mean = logmel.mean(dim=1)
    spread = logmel.std(dim=1, unbiased=False)
    rise = (logmel[:, 1:] - logmel[:, :-1]).clamp(min=0).mean(dim=1)
    floor = torch.log(torch.tensor(LOG_OFFSET, dtype=logmel.dtype, device=logmel.device))
    loudest = logmel.max(dim=2).values
    active = (loudest > floor + ACTIVE_ABOVE_FLOOR).to(logmel.dtype).mean(dim=1, keepdim=True)
    return torch.cat([mean, spread, rise, active], dim=1)


class MelStats(Encoder):
    """Log-mel statistics (mean, spread, onsets per band; activity) through a small MLP."""

    name = "mel-stats"
    description = "Per-band log-mel mean, spread and onset strength through a small MLP (CPU)."

    def __init__(
        self, hidden: int = 128, embed_dim: int = 128, standardise: bool = False,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.embed_dim = embed_dim
        self.hidden = hidden
        self.frontend = LogMelExamples()
        features = 3 * VGGISH_BANDS + 1
        # The statistics share a large offset (the log floor) and differ by little between
        # tracks; standardising each one (running statistics, no learned scale) lets the
        # first layer see the differences. Off in consoles trained before the option.
        self.standardise = (
            nn.BatchNorm1d(features, affine=False, momentum=0.01) if standardise else None
        )
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}.")
        # Dropout between the layers: the statistics of a few recorded sources are easy to
        # memorise, and dropping some generalised better to sources left out (see the
        # generalisation page). Without it the layers keep the names older consoles saved.
        drop = [nn.Dropout(dropout)] if dropout else []
        self.network = nn.Sequential(
            nn.Linear(features, hidden), nn.ReLU(inplace=True), *drop,
            nn.Linear(hidden, hidden), nn.ReLU(inplace=True), *drop,
            nn.Linear(hidden, embed_dim), nn.ReLU(inplace=True),
        )

    def forward(self, audio: torch.Tensor, sample_rate: int) -> torch.Tensor:
        features = log_mel_statistics(self.frontend.frames(audio, sample_rate))
        norm = self.standardise
        if norm is not None:
            batch_stats = norm.training and features.shape[0] > 1  # one row has no spread
            features = nn.functional.batch_norm(
                features, norm.running_mean, norm.running_var, training=batch_stats,
                momentum=norm.momentum, eps=norm.eps,
            )
        return self.network(features)
