"""The base class for losses between a predicted and a reference mix."""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn


class Loss(nn.Module):
    """Compares mixes ``(B, 2, T)``; ``mask`` ``(B,)`` marks batch items that count."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""

    def forward(
        self, mix: torch.Tensor, reference: torch.Tensor, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        if mix.shape != reference.shape:
            raise ValueError(
                f"{self.name}: mix {tuple(mix.shape)} and reference "
                f"{tuple(reference.shape)} must have the same shape."
            )
        if mask is not None:
            mask = mask.to(torch.bool)
            if not bool(mask.any()):
                raise ValueError(f"{self.name}: the mask leaves no batch item to compare.")
            mix, reference = mix[mask], reference[mask]
        return self.compare(mix, reference)

    def compare(self, mix: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
        """The loss over items that count; inputs are checked by :meth:`forward`."""
        raise NotImplementedError
