"""A figure of the results: one panel per metric, a bar per system, a dot per song."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from console.evaluation.metrics import METRICS
from console.evaluation.report import Row
from console.figures import png_figure, pyplot


def plot_results(
    path: Path, rows: Sequence[Row], summary: Sequence[Row], systems: Sequence[str]
) -> bool:
    """Write the PNG; ``False`` when matplotlib (the ``plot`` extra) is missing."""
    plt = pyplot()
    if plt is None:
        return False
    size = (3.2 * len(METRICS), 0.5 * len(systems) + 2.2)
    with png_figure(
        plt, path, dpi=110, nrows=1, ncols=len(METRICS), figsize=size, squeeze=False
    ) as (figure, axes):
        for ax, metric in zip(axes[0], METRICS, strict=True):
            means = [row[metric.key] for row in summary]
            ax.barh(range(len(systems)), [m if math.isfinite(m) else 0 for m in means],
                    color="0.75")
            for i, system in enumerate(systems):
                values = [r[metric.key] for r in rows if r["system"] == system]
                ax.plot(values, [i] * len(values), "o", color="C0", markersize=3, alpha=0.7)
            ax.set_yticks(range(len(systems)))
            ax.set_yticklabels(systems if ax is axes[0][0] else [""] * len(systems))
            ax.invert_yaxis()
            ax.set_title(metric.label + (f" ({metric.unit})" if metric.unit else ""))
            ax.grid(axis="x", alpha=0.3)
        figure.suptitle("lower is better; bars: mean, dots: songs")
    return True
