"""A set-aware post-processor: the tracks of a song decide together, by attention.

The paper's post-processor sees each track with one summary of the song (the
mean embedding), so two tracks that sound alike get the same settings, and
how loud a track should be cannot depend on which other tracks are there
beyond that average. Here every track's embedding attends to the other tracks
of its song through a few transformer layers before its settings are read
out, so relative levels and sides can be decided together.

Permutation-equivariant (no positions are used: reordering the stems
reorders the settings), any number of tracks, and padded tracks neither
attend nor are attended to.
"""

from __future__ import annotations

import torch
from torch import nn

from console.tracks import masked_mean


def padded_by_song(
    rows: torch.Tensor, batch_index: torch.Tensor, batch_size: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(M, D)`` rows as ``(B, K, D)`` songs, the ``(B, K)`` valid mask, and where each row went.

    Rows keep their order within a song; the third value is each row's flat
    index in the ``(B * K)`` layout, to gather them back.
    """
    counts = torch.bincount(batch_index, minlength=batch_size)
    tracks = int(counts.max()) if rows.shape[0] else 1
    order = torch.argsort(batch_index, stable=True)
    starts = torch.cumsum(counts, 0) - counts
    position = torch.empty_like(batch_index)
    position[order] = torch.arange(rows.shape[0], device=rows.device) - starts[batch_index[order]]
    flat = batch_index * tracks + position
    padded = rows.new_zeros(batch_size * tracks, rows.shape[-1]).index_copy(0, flat, rows)
    valid = torch.zeros(batch_size * tracks, dtype=torch.bool, device=rows.device)
    valid[flat] = True
    return padded.view(batch_size, tracks, -1), valid.view(batch_size, tracks), flat


class SetPostProcessor(nn.Module):
    """Maps each track's embedding, in the company of its song's tracks, to ``[0, 1]`` settings."""

    def __init__(
        self, embed_dim: int, num_params: int, hidden: int = 128, layers: int = 2, heads: int = 4
    ) -> None:
        super().__init__()
        self.project = nn.Sequential(nn.Linear(embed_dim, hidden), nn.PReLU())
        self.blocks = nn.ModuleList(
            nn.TransformerEncoderLayer(hidden, heads, 2 * hidden, dropout=0.0, batch_first=True,
                                       norm_first=True)
            for _ in range(layers)
        )
        self.net = nn.Sequential(
            nn.Linear(2 * hidden, hidden), nn.PReLU(), nn.Linear(hidden, num_params), nn.Sigmoid()
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
        tokens = self.project(embeddings)
        songs, valid, flat = padded_by_song(tokens, batch_index, batch_size)
        for block in self.blocks:
            songs = block(songs, src_key_padding_mask=~valid)
        tokens = songs.reshape(-1, songs.shape[-1])[flat]
        context = masked_mean(tokens, batch_index, batch_size)[batch_index]
        return self.net(torch.cat([tokens, context], dim=-1))
