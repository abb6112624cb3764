"""Settings of a training run, saved in every checkpoint."""

from __future__ import annotations

from typing import Literal

import attrs

#: The largest learning rate a run accepts. An AdamW step moves every weight by about the
#: learning rate, so above 1 each step moves weights by more than their own size (the
#: default is 1e-3); such a run only diverges.
MAX_LEARNING_RATE = 1.0


def _positive(instance: object, attribute: attrs.Attribute, value: float) -> None:
    if not value > 0:  # NaN too
        raise ValueError(f"{attribute.name} must be positive, got {value}.")


def _learning_rate(instance: object, attribute: attrs.Attribute, value: float) -> None:
    if not 0 < value <= MAX_LEARNING_RATE:  # NaN and infinity too
        raise ValueError(
            f"{attribute.name} must be above 0 and at most {MAX_LEARNING_RATE:g}, got {value}."
        )


@attrs.frozen
class TrainConfig:
    """Optimiser, schedule and bookkeeping of a run (AdamW, warm-up then cosine decay)."""

    steps: int = attrs.field(default=10_000, validator=_positive)
    batch_size: int = attrs.field(default=4, validator=_positive)
    lr: float = attrs.field(default=3e-4, validator=_learning_rate)
    weight_decay: float = 1e-2
    warmup_steps: int = 100
    schedule: Literal["cosine", "constant"] = attrs.field(
        default="cosine", validator=attrs.validators.in_(("cosine", "constant"))
    )
    grad_clip: float = 1.0
    val_every: int = attrs.field(default=500, validator=_positive)
    checkpoint_every: int = attrs.field(default=100, validator=_positive)
    val_batches: int | None = None
    num_workers: int = 0
    seed: int = 0

    def lr_factor(self, step: int) -> float:
        """Multiplier of ``lr`` at ``step``: linear warm-up, then constant or cosine to 0."""
        import math

        if self.warmup_steps > 0 and step < self.warmup_steps:
            return (step + 1) / self.warmup_steps
        if self.schedule == "constant":
            return 1.0
        progress = (step - self.warmup_steps) / max(1, self.steps - self.warmup_steps)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))
