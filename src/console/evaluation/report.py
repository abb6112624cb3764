"""Results of an evaluation as a terminal table, CSV files and one JSON file."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from console.evaluation.metrics import METRICS
from console.output_paths import write_file

Row = dict[str, Any]


def metric_keys(rows: Sequence[Row]) -> list[str]:
    """The headline metrics first, then the per-band columns, as they occur in ``rows``."""
    headline = [m.key for m in METRICS]
    extra = sorted({k for row in rows for k in row if k not in headline and k not in
                    ("song", "system")}, key=lambda k: _band_order(k))
    return headline + extra


def _band_order(key: str) -> float:
    try:
        return float(key.split("_", 1)[1].split("-", 1)[0])
    except (IndexError, ValueError):
        return math.inf


def summarise(rows: Sequence[Row], systems: Sequence[str]) -> list[Row]:
    """Mean of every metric per system over songs (NaN values are left out)."""
    keys = metric_keys(rows)
    summary = []
    for system in systems:
        mine = [r for r in rows if r["system"] == system]
        entry: Row = {"system": system, "songs": len(mine)}
        for key in keys:
            values = np.array([r.get(key, math.nan) for r in mine], dtype=float)
            finite = values[np.isfinite(values)]
            entry[key] = float(finite.mean()) if finite.size else math.nan
        summary.append(entry)
    return summary


def format_table(summary: Sequence[Row]) -> str:
    """The headline metrics per system, aligned, for the terminal."""
    headers = ["system", "songs"] + [
        f"{m.label} ({m.unit})" if m.unit else m.label for m in METRICS
    ]
    lines = [[str(row["system"]), str(row["songs"])] + [
        _number(row[m.key]) for m in METRICS
    ] for row in summary]
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(headers)]
    def fmt(cells: Sequence[str]) -> str:
        return "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )
    rule = "  ".join("-" * w for w in widths)
    return "\n".join([fmt(headers), rule, *(fmt(line) for line in lines)])


def format_rst_table(summary: Sequence[Row]) -> str:
    """The same table as reStructuredText ``list-table`` rows (for the docs)."""
    headers = ["system", "songs"] + [m.label + (f" ({m.unit})" if m.unit else "")
                                     for m in METRICS]
    out = [".. list-table::", "   :header-rows: 1", ""]
    for cells in [headers] + [
        [str(r["system"]), str(r["songs"])] + [_number(r[m.key]) for m in METRICS]
        for r in summary
    ]:
        out.append(f"   * - {cells[0]}")
        out.extend(f"     - {c}" for c in cells[1:])
    return "\n".join(out)


def _number(value: float) -> str:
    return "n/a" if not math.isfinite(value) else f"{value:.3f}"


#: What makes a spreadsheet read a cell as a formula (OWASP's CSV-injection list).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def to_csv(rows: Sequence[Row], columns: Sequence[str]) -> str:
    """CSV text, quoted by the csv module; text never opens in a spreadsheet as a formula."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), extrasaction="ignore",
                            lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _csv_value(row.get(k, "")) for k in columns})
    return buffer.getvalue()


def _csv_value(value: Any) -> Any:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value  # a song or system named "=..." is text, not a formula
    return value


#: Who wrote the files of a results folder, as its manifest records.
WRITER = "console evaluate"


def write_reports(
    out_dir: Path, rows: Sequence[Row], summary: Sequence[Row], settings: dict[str, Any],
    force: bool = False,
) -> list[Path]:
    """``per_song.csv``, ``summary.csv`` and ``results.json`` in ``out_dir``, each atomically;
    one console did not write, or that changed since, is replaced only with ``force``."""
    keys = metric_keys(rows)
    files = {
        out_dir / "per_song.csv": to_csv(rows, ["song", "system", *keys]),
        out_dir / "summary.csv": to_csv(summary, ["system", "songs", *keys]),
        out_dir / "results.json": json.dumps(
            {
                "format": "console-evaluation",
                "version": 1,
                "settings": settings,
                "metrics": [
                    {"key": m.key, "label": m.label, "unit": m.unit, "description": m.description}
                    for m in METRICS
                ],
                "summary": _json_safe(summary),
                "per_song": _json_safe(rows),
            },
            indent=2,
        ),
    }
    for path, text in files.items():
        write_file(path, lambda tmp, text=text: tmp.write_text(text, encoding="utf-8"),
                   force=force, what="results file", by=WRITER)
    return list(files)


def _json_safe(rows: Sequence[Row]) -> list[Row]:
    """NaN is not JSON: write ``null`` instead."""
    return [
        {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in r.items()}
        for r in rows
    ]
