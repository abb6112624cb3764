"""VGGish (Hershey et al., 2017) as a track encoder.

The layer layout and parameter names follow the widely used PyTorch port
(torchvggish: ``features.*``, ``embeddings.*``); torchaudio's VGGISH bundle
names the same layers ``features_network.*`` and ``embedding_network.*``, and
loads too. Give such a state dict as ``weights=PATH``; without one the network
trains from scratch. Pretrained weights are never downloaded.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from console.checkpoint_file import check_finite, read_checkpoint
from console.encoder import Encoder
from console.errors import CheckpointError
from console_encoders.log_mel import VGGISH_BANDS, VGGISH_FRAMES, LogMelExamples

#: Other names of the same layers: torchaudio's VGGISH bundle -> torchvggish (ours).
LAYOUT_PREFIXES = {"features_network.": "features.", "embedding_network.": "embeddings."}


def torchvggish_names(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A VGGish state dict in any known layout, renamed to ours; PCA keys dropped."""
    renamed = {}
    for key, value in state.items():
        key = key.removeprefix("module.").removeprefix("network.")
        for theirs, ours in LAYOUT_PREFIXES.items():
            if key.startswith(theirs):
                key = ours + key.removeprefix(theirs)
        if not key.startswith("pproc"):
            renamed[key] = value
    return renamed


class VGGishNetwork(nn.Module):
    """The VGGish CNN: four conv blocks and three fully connected layers.

    Defaults are the published sizes (about 72 M parameters); smaller
    ``channels``/``fc`` give the same shape of network for tests and small data.
    """

    def __init__(
        self,
        channels: Sequence[int] = (64, 128, 256, 512),
        fc: Sequence[int] = (4096, 4096),
        embed_dim: int = 128,
    ) -> None:
        super().__init__()
        c1, c2, c3, c4 = channels
        conv = lambda i, o: nn.Conv2d(i, o, kernel_size=3, padding=1)  # noqa: E731
        self.features = nn.Sequential(
            conv(1, c1), nn.ReLU(inplace=True), nn.MaxPool2d(2, 2),
            conv(c1, c2), nn.ReLU(inplace=True), nn.MaxPool2d(2, 2),
            conv(c2, c3), nn.ReLU(inplace=True), conv(c3, c3), nn.ReLU(inplace=True),
            nn.MaxPool2d(2, 2),
            conv(c3, c4), nn.ReLU(inplace=True), conv(c4, c4), nn.ReLU(inplace=True),
            nn.MaxPool2d(2, 2),
        )
        flat = c4 * (VGGISH_FRAMES // 16) * (VGGISH_BANDS // 16)
        self.embeddings = nn.Sequential(
            nn.Linear(flat, fc[0]), nn.ReLU(inplace=True),
            nn.Linear(fc[0], fc[1]), nn.ReLU(inplace=True),
            nn.Linear(fc[1], embed_dim), nn.ReLU(inplace=True),
        )

    def forward(self, examples: torch.Tensor) -> torch.Tensor:
        """``(M, 96, 64)`` log-mel examples to ``(M, embed_dim)``."""
        x = self.features(examples[:, None])
        # Flatten channels-last, as the original TensorFlow model did, so ported weights fit.
        x = x.permute(0, 2, 3, 1).reshape(x.shape[0], -1)
        return self.embeddings(x)


class VGGish(Encoder):
    """VGGish on 64-band log-mel input; the track embedding is the mean over 0.96 s examples."""

    name = "vggish"
    description = "VGGish CNN on 16 kHz 64-band log-mel, 128-dim mean embedding."

    def __init__(
        self,
        channels: Sequence[int] = (64, 128, 256, 512),
        fc: Sequence[int] = (4096, 4096),
        embed_dim: int = 128,
        weights: str | None = None,
    ) -> None:
        super().__init__()
        self.embed_dim = embed_dim
        self.frontend = LogMelExamples()
        self.network = VGGishNetwork(channels, fc, embed_dim)
        if weights is not None:
            self.load_weights(weights)

    def load_weights(self, path: str | Path) -> None:
        """Load a VGGish state dict in torchvggish or torchaudio layout; PCA keys are ignored."""
        path = Path(path)
        state = read_checkpoint(path, "VGGish weights")
        if isinstance(state, dict) and "state_dict" in state:
            state = state["state_dict"]
        if not isinstance(state, dict) or not all(
            isinstance(v, torch.Tensor) for v in state.values()
        ):
            raise CheckpointError(f"{path} does not hold a state dict of weight tensors.")
        state = torchvggish_names(state)
        check_finite(state, str(path))
        ours = self.network.state_dict()
        if not set(state) & set(ours):
            raise CheckpointError(
                f"{path} holds no VGGish weights (names like {sorted(state)[:2]}); give a state "
                f"dict in torchvggish (features.*, embeddings.*) or torchaudio "
                f"(features_network.*, embedding_network.*) layout."
            )
        missing = sorted(set(ours) - set(state))
        unexpected = sorted(set(state) - set(ours))
        shapes = [
            f"{k} {tuple(state[k].shape)} instead of {tuple(v.shape)}"
            for k, v in ours.items() if k in state and state[k].shape != v.shape
        ]
        if missing or unexpected or shapes:
            raise CheckpointError(
                f"{path} does not fit this VGGish (missing {missing[:3]}, unexpected "
                f"{unexpected[:3]}, shapes {shapes[:2]}); give the encoder options channels, fc "
                f"and embed_dim the weights were made with."
            )
        self.network.load_state_dict(state, strict=True)

    #: Examples per network call when no gradient is needed, to bound memory on long songs.
    inference_chunk = 64

    def forward(self, audio: torch.Tensor, sample_rate: int) -> torch.Tensor:
        examples = self.frontend(audio, sample_rate)  # (N, E, 96, 64)
        n, e = examples.shape[:2]
        flat = examples.reshape(n * e, VGGISH_FRAMES, VGGISH_BANDS)
        if torch.is_grad_enabled():
            embeddings = self.network(flat)
        else:
            embeddings = torch.cat(
                [self.network(chunk) for chunk in flat.split(self.inference_chunk)]
            )
        return embeddings.reshape(n, e, -1).mean(dim=1)
