"""Train a console from Python: the same console and objective as ``console train``.

``console train`` adds what a long run needs (validation, checkpoints, resuming,
a schedule, several processes); this is the core of it, for your own loop.
"""

from __future__ import annotations

from pathlib import Path

import torch

from console import Console
from console.data import MultitrackDataset, make_loader, scan_folder
from console.training.mixing_task import MixingTask


def train(songs: str | Path, steps: int = 100, sample_rate: int = 22050) -> list[float]:
    """Train a gain+pan console on the songs of a folder; returns each step's loss."""
    console = Console.from_spec("gain+pan")  # what `console train` builds by default
    task = MixingTask.recommended(console, sample_rate)  # its loss and decision weights
    data = MultitrackDataset(
        scan_folder(songs), sample_rate=sample_rate, segment_seconds=3.0, resample=True,
        targets=task.target_layout,  # the engineer's settings, where params.json has them
    )
    optimiser = torch.optim.AdamW(console.parameters(), lr=1e-3)
    losses: list[float] = []
    while len(losses) < steps:
        for batch in make_loader(data, batch_size=4):
            loss = task.loss(console, batch)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            losses.append(loss.item())
            if len(losses) == steps:
                break
    console.save("console.pt")  # `console mix --checkpoint console.pt` mixes with it
    return losses


if __name__ == "__main__":
    import sys

    print(train(sys.argv[1])[-1])
