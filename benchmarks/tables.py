"""The Markdown and reStructuredText tables the benchmark scripts print and write."""

from __future__ import annotations

from collections.abc import Sequence


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table of string cells, for the terminal and the closing notes."""
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def rst_list_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """The same table as a docs ``list-table``; the first column (names) set as literals."""
    out = [".. list-table::\n   :header-rows: 1\n\n"]
    for i, row in enumerate([header, *rows]):
        cells = [c if c else " " for c in row]
        if i:
            cells[0] = f"``{cells[0]}``"
        out.append("   * - " + "\n     - ".join(cells) + "\n")
    return "".join(out)
