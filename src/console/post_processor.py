"""The post-processor: one MLP, shared by every track, from embeddings to settings."""

from __future__ import annotations

import torch
from torch import nn


class PostProcessor(nn.Module):
    """Maps ``[track embedding, song context]`` to normalised parameters in ``[0, 1]``.

    Weights are shared across tracks, so the console handles any number of
    stems; the context (the mean embedding over the song's tracks) lets each
    track's setting depend on the others.
    """

    def __init__(self, embed_dim: int, num_params: int, hidden: int = 256) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(2 * embed_dim, hidden),
            nn.PReLU(),
            nn.Linear(hidden, hidden),
            nn.PReLU(),
            nn.Linear(hidden, num_params),
            nn.Sigmoid(),
        )

    def zero_output(self, column: int) -> None:
        """Make output ``column`` start at exactly 0.5 for every input (its weights at zero)."""
        last = self.net[-2]
        with torch.no_grad():
            last.weight[column].zero_()
            last.bias[column].zero_()

    def forward(self, embedding: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([embedding, context], dim=-1))
