"""Training a console: predict settings, mix, compare with the reference mix."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch
from torch import nn

from console.console import Console
from console.errors import ConsoleError
from console.losses.base import Loss


class MixingTask:
    """The console's training objective: ``loss(console(stems).mix, reference mix)``.

    Effects with weights of their own (neural emulators) are frozen unless
    ``train_effects`` is set, as in the paper; the encoder trains unless
    ``freeze_encoder`` is set (useful with pretrained VGGish weights).

    ``pan_weight`` adds, for songs whose reference pans are known (the batch's
    ``pans``), the mean absolute difference between each track's distance
    from the centre and the reference's, times the weight. Distances, not
    positions: a mix and its mirror image are equally right, and a balanced
    console chooses the sides itself. See :mod:`console.data.reference_pans`.
    """

    def __init__(
        self,
        console: Console,
        loss: Loss,
        sample_rate: int,
        freeze_encoder: bool = False,
        train_effects: bool = False,
        pan_weight: float = 0.0,
    ) -> None:
        self.model = console
        self.loss_fn = loss
        self.sample_rate = int(sample_rate)
        self.freeze_encoder = freeze_encoder
        self.train_effects = train_effects
        if not (pan_weight >= 0.0 and math.isfinite(pan_weight)):
            raise ValueError(f"pan_weight must be a finite number >= 0, got {pan_weight}.")
        self.pan_column = next((s.index for s in console.layout if s.effect_key == "pan"
                                and s.spec.name == "pan"), None)
        if pan_weight and self.pan_column is None:
            raise ConsoleError(f"A pan weight needs a pan in the chain; {console.spec} has none.")
        self.pan_weight = float(pan_weight)
        console.encoder.requires_grad_(not freeze_encoder)
        console.chain.requires_grad_(train_effects)

    @property
    def wants_pans(self) -> bool:
        """Whether batches should carry the reference pans."""
        return self.pan_weight > 0.0

    def loss(self, model: nn.Module, batch: Any) -> torch.Tensor:
        result = model(batch.stems, batch.mask, sample_rate=self.sample_rate)
        loss = self.loss_fn(result.mix, batch.mix)
        pans = getattr(batch, "pans", None)
        if self.pan_weight and pans is not None:
            known = torch.isfinite(pans) & batch.mask
            if known.any():
                width = result.params[..., self.pan_column].abs()
                target = pans.nan_to_num(0.0).abs()
                loss = loss + self.pan_weight * (width - target).abs()[known].mean()
        return loss

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
            "pan_weight": self.pan_weight,
        }

    def export(self, out_dir: Path, best: bool) -> None:
        self.model.save(out_dir / ("best.pt" if best else "console.pt"))
