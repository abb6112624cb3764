"""A Mix-Wave-U-Net for any number of stems, after Martínez Ramírez et al. (2021).

Mix-Wave-U-Net maps the stems straight to a stereo mix with a Wave-U-Net
(Stoller et al., 2018): a stack of 1-D convolutions that halve the time
resolution, a mirrored stack that restores it, and skip connections between
levels of the same resolution. The original takes a fixed set of stems as its
input channels. Here every stem goes through the *same* encoder (one row per
stem, like the console's tracks) and the stems meet in two ways:

* each encoder level sees its stem's features next to the mean over all stems
  of the song (a DeepSets-style context, so one stem's treatment can depend on
  the others);
* skip connections and the bottleneck carry the *sum* over stems, which is
  what a mix is.

So any number of stems works, the order of the stems does not matter, and a
masked (padding) stem contributes nothing. Convolutions are zero-padded
("same"), and audio is padded to a multiple of ``2 ** levels`` and cropped back.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from console.mixer import Mixer
from console.tracks import masked_mean, valid_rows


def pooled_sum(rows: torch.Tensor, batch_index: torch.Tensor, batch_size: int) -> torch.Tensor:
    """Sum ``(M, C, T)`` stem rows into their songs, ``(B, C, T)``."""
    out = rows.new_zeros(batch_size, *rows.shape[1:])
    return out.index_add(0, batch_index, rows)


def pooled_mean(rows: torch.Tensor, batch_index: torch.Tensor, batch_size: int) -> torch.Tensor:
    """Mean of ``(M, C, T)`` stem rows per song, ``(B, C, T)``."""
    flat = masked_mean(rows.flatten(1), batch_index, batch_size)
    return flat.view(batch_size, *rows.shape[1:])


class MixWaveUNet(Mixer):
    """Stems in, stereo mix out; trainable with ``console train --mixer wave-u-net``.

    ``levels`` halvings, ``channels * (l + 1)`` feature channels at level ``l``,
    encoder kernels of ``kernel`` samples and decoder kernels of ``up_kernel``.
    """

    name = "wave-u-net"
    description = "Mix-Wave-U-Net: stems to stereo mix end to end (any number of stems)."
    trainable = True
    chunk_seconds = 10.0

    def __init__(
        self, levels: int = 6, channels: int = 24, kernel: int = 15, up_kernel: int = 5
    ) -> None:
        super().__init__()
        if levels < 1 or channels < 1:
            raise ValueError(f"levels and channels must be positive, got {levels}, {channels}.")
        if kernel % 2 == 0 or up_kernel % 2 == 0:
            raise ValueError(f"Kernel sizes must be odd, got {kernel} and {up_kernel}.")
        self.levels, self.channels = int(levels), int(channels)
        self.kernel, self.up_kernel = int(kernel), int(up_kernel)
        widths = [channels * (level + 1) for level in range(levels + 1)]
        ins = [1, *widths[: levels - 1]]
        self.down = nn.ModuleList(
            nn.Conv1d(2 * c_in, c_out, kernel, padding=kernel // 2)
            for c_in, c_out in zip(ins, widths[:levels], strict=True)
        )
        self.bottleneck = nn.Conv1d(widths[levels - 1], widths[levels], kernel, padding=kernel // 2)
        self.up = nn.ModuleList(
            nn.Conv1d(widths[level + 1] + widths[level], widths[level], up_kernel,
                      padding=up_kernel // 2)
            for level in range(levels)
        )
        self.out = nn.Conv1d(widths[0] + 1, 2, 1)

    def options(self) -> dict[str, object]:
        return {"levels": self.levels, "channels": self.channels, "kernel": self.kernel,
                "up_kernel": self.up_kernel}

    def mix(self, stems: torch.Tensor, mask: torch.Tensor, sample_rate: int) -> torch.Tensor:
        frames = stems.shape[-1]
        block = 2**self.levels
        stems = F.pad(stems, (0, (-frames) % block))
        rows, batch_index = valid_rows(stems, mask)
        batch = stems.shape[0]
        h = rows[:, None, :]
        skips = []
        for conv in self.down:
            context = pooled_mean(h, batch_index, batch)[batch_index]
            h = F.leaky_relu(conv(torch.cat([h, context], dim=1)), 0.2)
            skips.append(pooled_sum(h, batch_index, batch))
            h = h[..., ::2]  # decimate, as Wave-U-Net does
        x = F.leaky_relu(self.bottleneck(pooled_sum(h, batch_index, batch)), 0.2)
        for level in reversed(range(self.levels)):
            skip = skips[level]
            x = F.interpolate(x, size=skip.shape[-1], mode="linear", align_corners=False)
            x = F.leaky_relu(self.up[level](torch.cat([x, skip], dim=1)), 0.2)
        mono_sum = pooled_sum(rows[:, None, :], batch_index, batch)
        return self.out(torch.cat([x, mono_sum], dim=1))[..., :frames]
