"""Figures as PNG files: matplotlib is optional, files are written atomically.

Every plot in the package (effect plots, loss curves, evaluation and
listening-test summaries) goes through these two helpers.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from console.atomic import atomic_path


def pyplot() -> Any | None:
    """``matplotlib.pyplot`` on the file-only Agg backend, or ``None`` if it is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt


@contextmanager
def png_figure(
    plt: Any, path: Path, dpi: float | None = None, **subplots: Any
) -> Iterator[tuple[Any, Any]]:
    """Yield ``(figure, axes)`` from ``plt.subplots(**subplots)``; on success lay it out
    and write it to ``path`` as PNG. The figure is closed either way."""
    figure, axes = plt.subplots(**subplots)
    try:
        yield figure, axes
        figure.tight_layout()
        with atomic_path(path) as tmp:
            figure.savefig(tmp, format="png", dpi=dpi if dpi is not None else "figure")
    finally:
        plt.close(figure)
