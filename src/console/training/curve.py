"""The loss curve of a run as a PNG (matplotlib is optional)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from console.figures import png_figure, pyplot


def write_loss_curve(
    path: Path,
    train: Sequence[tuple[int, float]],
    val: Sequence[tuple[int, float]],
    title: str = "",
) -> bool:
    """Plot train and validation loss against step; ``False`` when matplotlib is missing."""
    plt = pyplot()
    if plt is None:
        return False
    with png_figure(plt, path, figsize=(6, 3.5), dpi=120) as (_, ax):
        if train:
            ax.plot(*zip(*train, strict=True), label="train", alpha=0.7)
        if val:
            ax.plot(*zip(*val, strict=True), "o-", label="validation")
        ax.set_xlabel("step")
        ax.set_ylabel("loss")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend()
    return True
