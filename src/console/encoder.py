"""The base class every track encoder derives from."""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn


class Encoder(nn.Module):
    """Maps mono tracks ``(N, T)`` at ``sample_rate`` to embeddings ``(N, embed_dim)``.

    The console runs one encoder with shared weights over every track, so an
    encoder must treat rows independently.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    embed_dim: int = 128

    def forward(self, audio: torch.Tensor, sample_rate: int) -> torch.Tensor:
        raise NotImplementedError
