"""The post-processor: one MLP, shared by every track, from embeddings to settings."""

from __future__ import annotations

import torch
from torch import nn

from console.tracks import masked_mean


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

    def forward(
        self, embeddings: torch.Tensor, batch_index: torch.Tensor, batch_size: int
    ) -> torch.Tensor:
        """``(M, P)`` settings of ``(M, D)`` track embeddings; ``batch_index`` names each song."""
        context = masked_mean(embeddings, batch_index, batch_size)[batch_index]
        return self.net(torch.cat([embeddings, context], dim=-1))


#: The post-processors a console can use, by the name its checkpoint records.
POST_PROCESSORS = ("mlp", "set")


def create_post_processor(
    kind: str, embed_dim: int, num_params: int, hidden: int
) -> nn.Module:
    """The paper's shared per-track MLP (``mlp``) or the set-aware one (``set``)."""
    if kind == "mlp":
        return PostProcessor(embed_dim, num_params, hidden)
    if kind == "set":
        from console.set_post_processor import SetPostProcessor

        return SetPostProcessor(embed_dim, num_params, hidden)
    raise ValueError(f"post_processor must be one of {', '.join(POST_PROCESSORS)}, got {kind!r}.")
