"""Training a registered mixer (e.g. ``wave-u-net``) on the same data and loop as a console."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from console.errors import ConsoleError
from console.losses.base import Loss
from console.mixer import Mixer


class MixerTask:
    """The objective of an end-to-end mixer: ``loss(mixer(stems), reference mix)``.

    Exports ``mixer.pt`` (and ``best.pt`` at the best validation loss), which
    ``console evaluate`` accepts as a system.
    """

    def __init__(self, mixer: Mixer, loss: Loss, sample_rate: int) -> None:
        if not mixer.trainable or not any(p.requires_grad for p in mixer.parameters()):
            raise ConsoleError(
                f"The mixer {mixer.name!r} has no weights to train; evaluate it directly "
                f"with `console evaluate --systems {mixer.name}`."
            )
        self.model = mixer
        self.loss_fn = loss
        self.sample_rate = int(sample_rate)

    def loss(self, model: nn.Module, batch: Any) -> torch.Tensor:
        mix = model(batch.stems, batch.mask, sample_rate=self.sample_rate)
        return self.loss_fn(mix, batch.mix)

    def describe(self) -> dict[str, Any]:
        return {
            "name": f"mixer {self.model.name}",
            "mixer": self.model.name,
            "options": self.model.options(),
            "sample_rate": self.sample_rate,
            "loss": self.loss_fn.name,
        }

    def export(self, out_dir: Path, best: bool) -> None:
        self.model.save(out_dir / ("best.pt" if best else "mixer.pt"))
