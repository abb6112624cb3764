"""Small in-memory multitrack data whose reference mix follows a learnable rule."""

from __future__ import annotations

import torch

from console.chain import EffectChain
from console.data.collate import Example

SR = 8000
RULE_CHAIN = EffectChain.from_spec("gain+pan")


def rule_params(freq: float) -> list[float]:
    """Low tones loud and left, high tones quiet and right."""
    return [-3.0, -0.8] if freq < 300 else [-18.0, 0.8]


class ToneSessions(torch.utils.data.Dataset):
    """Songs of 2 to 4 tones; the reference mixes them by :func:`rule_params`."""

    def __init__(self, n: int, seconds: float = 0.5, seed: int = 0) -> None:
        g = torch.Generator().manual_seed(seed)
        t = torch.arange(int(seconds * SR)) / SR
        self.examples = []
        for i in range(n):
            k = 2 + i % 3
            freqs = [float(f) for f in 100 + 800 * torch.rand(k, generator=g)]
            stems = torch.stack([0.5 * torch.sin(2 * torch.pi * f * t) for f in freqs])
            params = torch.tensor([rule_params(f) for f in freqs])
            with torch.no_grad():
                mix = RULE_CHAIN(stems, params, SR).sum(0)
            names = tuple(f"tone{j}" for j in range(k))
            self.examples.append(Example(stems, mix, names, ("other",) * k, f"song{i}", 0))

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, i: int) -> Example:
        return self.examples[i]
