"""The loss curve of a run as a PNG (matplotlib is optional)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from console.atomic import atomic_write


def write_loss_curve(
    path: Path,
    train: Sequence[tuple[int, float]],
    val: Sequence[tuple[int, float]],
    title: str = "",
) -> bool:
    """Plot train and validation loss against step; ``False`` when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=120)
    if train:
        ax.plot(*zip(*train, strict=True), label="train", alpha=0.7)
    if val:
        ax.plot(*zip(*val, strict=True), "o-", label="validation")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png"))
    plt.close(fig)
    return True
