"""One evaluation run: mix every song with every system, score, and write what was found.

``OUT/`` receives ``per_song.csv``, ``summary.csv``, ``results.json``,
``metrics.png`` and, for the listening test, ``excerpts/manifest.json`` with
``excerpts/<song folder>/<system>.wav``, ``reference.wav`` and ``anchor.wav``
(a folder per song, never shared: see :func:`~console.evaluation.excerpts.excerpt_folders`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from console.data.song import Song
from console.errors import ConsoleError
from console.evaluation.excerpts import (
    ANCHOR_CUTOFF_HZ,
    anchor_mix,
    excerpt_folders,
    loudest_window,
    song_excerpts,
    write_excerpts,
)
from console.evaluation.metrics import compare_mixes
from console.evaluation.plots import plot_results
from console.evaluation.report import WRITER, Row, summarise, write_reports
from console.evaluation.songs import load_song
from console.evaluation.systems import System
from console.output_paths import check_replace, write_file

#: Labels the listening test gives its own conditions.
RESERVED_LABELS = ("reference", "anchor")
MANIFEST_FORMAT = "console-listening-excerpts"


#: What an evaluation writes at the top of its results folder.
RESULTS_FILES = ("per_song.csv", "summary.csv", "results.json", "metrics.png")


def check_results_folder(out_dir: Path, force: bool = False) -> None:
    """Before any song is mixed: refuse to replace a results file, or anything in
    ``excerpts/``, that console did not write or that changed since (a hand-edited
    summary), unless ``force``."""
    if force or not out_dir.is_dir():
        return
    for name in RESULTS_FILES:
        check_replace(out_dir / name, force=False, what="results file")
    excerpts = out_dir / "excerpts"
    if excerpts.is_dir():
        for path in sorted(excerpts.rglob("*")):
            hidden = any(part.startswith(".") for part in path.relative_to(excerpts).parts)
            if not hidden and (path.is_file() or path.is_symlink()):
                check_replace(path, force=False, what="listening-test excerpt")


def check_labels(systems: Sequence[System]) -> None:
    """Refuse repeated or reserved system labels (they name files and table rows)."""
    labels = [s.file_label for s in systems]
    repeated = sorted({label for label in labels if labels.count(label) > 1})
    if repeated:
        raise ConsoleError(
            f"Two systems share the label {repeated[0]!r}; name them with label=path, "
            f"e.g. a={repeated[0]}.pt,b=other.pt."
        )
    reserved = sorted(set(labels) & set(RESERVED_LABELS))
    if reserved:
        raise ConsoleError(
            f"{reserved[0]!r} is what the listening test calls its own condition; give the "
            f"system another label with label=path."
        )


def evaluate(
    songs: Sequence[Song],
    systems: Sequence[System],
    out_dir: Path,
    sample_rate: int,
    excerpt_seconds: float | None = 8.0,
    plots: bool = True,
    progress: bool = True,
    settings: dict[str, Any] | None = None,
    force: bool = False,
) -> list[Row]:
    """Score every system on every whole song; returns the per-system summary rows.

    ``out_dir`` is checked first (:func:`check_results_folder`): a file there that console
    did not write, or that changed since, is replaced only with ``force``.
    """
    if not songs:
        raise ConsoleError("There are no songs to evaluate; check the dataset and --subset.")
    if not systems:
        raise ConsoleError("Name at least one system to evaluate with --systems.")
    check_labels(systems)
    check_results_folder(out_dir, force)
    labels = [s.file_label for s in systems]
    rows: list[Row] = []
    manifest_songs: list[dict[str, Any]] = []
    bar = tqdm(total=len(songs) * len(systems), desc="evaluate", unit="mix",
               disable=not progress, dynamic_ncols=True)
    folders = excerpt_folders([song.name for song in songs])
    for song, folder in zip(songs, folders, strict=True):
        loaded = load_song(song, sample_rate)
        mixes = {}
        for system, label in zip(systems, labels, strict=True):
            bar.set_postfix_str(f"{song.name}: {label}")
            mixes[label] = system.mix_song(loaded)
            rows.append({"song": song.name, "system": label,
                         **compare_mixes(mixes[label], loaded.mix, sample_rate)})
            bar.update(1)
        if excerpt_seconds:
            manifest_songs.append(
                _write_song_excerpts(out_dir / "excerpts" / folder, loaded, mixes,
                                     excerpt_seconds, force)
            )
    bar.close()
    summary = summarise(rows, labels)
    settings = {**(settings or {}), "sample_rate": sample_rate, "songs": len(songs),
                "systems": {label: s.source for label, s in zip(labels, systems, strict=True)},
                "audio": "whole songs"}
    write_reports(out_dir, rows, summary, settings, force)
    if plots:
        write_file(out_dir / "metrics.png",
                   lambda tmp: plot_results(tmp, rows, summary, labels),
                   force=force, what="results file", by=WRITER)
    if excerpt_seconds:
        manifest = {
            "format": MANIFEST_FORMAT,
            "version": 1,
            "sample_rate": sample_rate,
            "seconds": excerpt_seconds,
            "anchor": f"mono sum low-passed at {ANCHOR_CUTOFF_HZ:g} Hz",
            "systems": labels,
            "songs": manifest_songs,
        }
        text = json.dumps(manifest, indent=2)
        write_file(out_dir / "excerpts" / "manifest.json",
                   lambda tmp: tmp.write_text(text, encoding="utf-8"),
                   force=force, what="results file", by=WRITER)
    return summary


def _write_song_excerpts(
    song_dir: Path, loaded: Any, mixes: dict[str, Any], seconds: float, force: bool = False
) -> dict[str, Any]:
    rate = loaded.sample_rate
    window = loudest_window(loaded.mix, rate, seconds)
    audio = {"reference": loaded.mix, "anchor": anchor_mix(loaded.stems, rate), **mixes}
    files = write_excerpts(song_dir, song_excerpts(audio, window, rate), rate, force)
    return {
        "song": loaded.name,
        "folder": song_dir.name,
        "start_seconds": window[0] / rate,
        "end_seconds": window[1] / rate,
        "files": files,
    }

