"""Training a console: predict settings, mix, compare with the reference mix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from console.console import Console
from console.losses.base import Loss


class MixingTask:
    """The console's training objective: ``loss(console(stems).mix, reference mix)``.

    Effects with weights of their own (neural emulators) are frozen unless
    ``train_effects`` is set, as in the paper; the encoder trains unless
    ``freeze_encoder`` is set (useful with pretrained VGGish weights).
    """

    def __init__(
        self,
        console: Console,
        loss: Loss,
        sample_rate: int,
        freeze_encoder: bool = False,
        train_effects: bool = False,
    ) -> None:
        self.model = console
        self.loss_fn = loss
        self.sample_rate = int(sample_rate)
        self.freeze_encoder = freeze_encoder
        self.train_effects = train_effects
        console.encoder.requires_grad_(not freeze_encoder)
        console.chain.requires_grad_(train_effects)

    def loss(self, model: nn.Module, batch: Any) -> torch.Tensor:
        result = model(batch.stems, batch.mask, sample_rate=self.sample_rate)
        return self.loss_fn(result.mix, batch.mix)

    def describe(self) -> dict[str, Any]:
        console = self.model
        return {
            "name": f"console {console.spec}",
            "spec": console.spec,
            "encoder": console.encoder_name,
            "encoder_options": dict(console.encoder_options),
            "hidden": console.hidden,
            "decisions": console.decisions.to_dict(),
            "sample_rate": self.sample_rate,
            "loss": self.loss_fn.name,
            "freeze_encoder": self.freeze_encoder,
            "train_effects": self.train_effects,
        }

    def export(self, out_dir: Path, best: bool) -> None:
        self.model.save(out_dir / ("best.pt" if best else "console.pt"))
