"""Summarising listening-test results: mean rating per system with a 95% confidence interval.

Intervals use Student's t over every rating of a system (all participants
and songs pooled), as ITU-R BS.1534 reports them. Optionally participants are
screened first: BS.1534-3 leaves out anyone who rated the hidden reference
below 90 in more than 15% of their trials.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from console.errors import ConsoleError
from console.evaluation.report import to_csv
from console.figures import png_figure, pyplot
from console.listening.folders import make_output_folder
from console.listening.student_t import t_quantile_two_sided
from console.numbers import is_finite_number
from console.output_paths import check_replace, write_file

RESULTS_FORMAT = "console-listening-results"
SCREEN_RATING = 90.0
SCREEN_FRACTION = 0.15
RATING_RANGE = (0.0, 100.0)
#: What an analysis writes in its folder (the figure only with matplotlib).
ANALYSIS_FILES = ("ratings.csv", "ratings.json", "ratings.png")
WRITER = "console listening-test"


@attrs.frozen
class SystemRating:
    """The ratings of one condition: mean, standard deviation and 95% interval."""

    system: str
    count: int
    mean: float
    std: float
    ci_low: float
    ci_high: float


@attrs.frozen
class Analysis:
    ratings: list[SystemRating]
    participants: int
    excluded: list[str]


def read_results(paths: Sequence[Path]) -> list[dict[str, Any]]:
    """Load downloaded result files, refusing anything that is not one."""
    if not paths:
        raise ConsoleError("Give at least one results file to analyse.")
    loaded = []
    given: dict[Path, Path] = {}
    for path in paths:
        first = given.setdefault(Path(path).resolve(), Path(path))
        if len(given) <= len(loaded):
            also = "" if first == Path(path) else f" (also as {first})"
            raise ConsoleError(
                f"The results file {path} is given twice{also}; each participant counts "
                f"once, so give each file once."
            )
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8-sig"))
        except FileNotFoundError as exc:
            raise ConsoleError(f"The results file {path} does not exist.") from exc
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ConsoleError(f"{path} is not a JSON results file ({exc}).") from exc
        except RecursionError as exc:
            raise ConsoleError(
                f"{path} is not a listening-test results file: its JSON nests too deeply "
                f"to read."
            ) from exc
        if not isinstance(data, dict) or data.get("format") != RESULTS_FORMAT:
            raise ConsoleError(
                f"{path} is not a listening-test results file (format {RESULTS_FORMAT!r})."
            )
        if not data.get("trials"):
            raise ConsoleError(f"{path} holds no rated trials; was the test finished?")
        check_trials(path, data["trials"])
        test_id = data.get("test_id")
        if not isinstance(test_id, str) or not test_id.strip():
            raise ConsoleError(
                f"{path} names no test (its 'test_id' is missing or empty), so it cannot be "
                f"checked to come from the same test as the others; give the file the test "
                f"page saved."
            )
        loaded.append({**data, "_source": str(path)})
    tests = {str(r["test_id"]): r["_source"] for r in loaded if r.get("test_id")}
    if len(tests) > 1:
        (first, a), (second, b) = list(tests.items())[:2]
        raise ConsoleError(
            f"{a} and {b} come from different tests ({first} and {second}); analyse the "
            f"results of each test on their own."
        )
    check_distinct(loaded)
    return loaded


def check_distinct(results: Sequence[dict[str, Any]]) -> None:
    """Refuse one participant's session given twice (a copied or renamed file).

    A session is the same when its participant and start time are, or, for files that
    record no start time, when every rating is: counting it twice would narrow the
    intervals with no new listener.
    """
    seen: dict[Any, str] = {}
    for result in results:
        started = result.get("started")
        if started:
            key: Any = ("session", str(result.get("participant", "")), str(started))
        else:
            key = ("ratings", json.dumps(result["trials"], sort_keys=True))
        first = seen.setdefault(key, result["_source"])
        if first != result["_source"]:
            who = str(result.get("participant") or "").strip() or "an anonymous participant"
            raise ConsoleError(
                f"{first} and {result['_source']} hold the same session ({who}"
                f"{f', started {started}' if started else ''}); each participant counts "
                f"once, so give one of them."
            )


def check_trials(path: Path, trials: Any) -> None:
    """Refuse trials a mean would silently go wrong on: a rating must be a number in 0-100."""
    if not isinstance(trials, list):
        raise ConsoleError(f"{path}: 'trials' is not a list; give the file the test page saved.")
    songs: dict[str, int] = {}
    for number, trial in enumerate(trials, start=1):
        ratings = trial.get("ratings") if isinstance(trial, dict) else None
        if not isinstance(ratings, dict) or not ratings:
            raise ConsoleError(
                f"{path}: trial {number} has no 'ratings' object (condition: rating); give "
                f"the file the test page saved."
            )
        song = trial.get("song")
        if song is not None:
            first = songs.setdefault(json.dumps(song), number)
            if first != number:
                raise ConsoleError(
                    f"{path}: trials {first} and {number} both rate the song {song!r}, so it "
                    f"would count twice; the test page rates each song once: give the file "
                    f"it saved."
                )
        order = trial.get("order")
        if order is not None and (not isinstance(order, list)
                                  or not all(isinstance(c, str) for c in order)
                                  or sorted(order) != sorted(ratings)):
            raise ConsoleError(
                f"{path}: trial {number} rates {sorted(ratings)} but played {order!r}; give "
                f"the file the test page saved."
            )
        for condition, value in ratings.items():
            if not is_rating(value):
                shown = repr(value) if len(repr(value)) <= 40 else f"{repr(value)[:30]}..."
                raise ConsoleError(
                    f"{path}: trial {number} rates {condition!r} as {shown}; a rating is a "
                    f"number from {RATING_RANGE[0]:g} to {RATING_RANGE[1]:g}."
                )


def is_rating(value: Any) -> bool:
    """A finite number on the test's scale (``True`` is not a number here)."""
    return is_finite_number(value) and RATING_RANGE[0] <= value <= RATING_RANGE[1]


def fails_screening(result: dict[str, Any]) -> bool:
    """Whether a participant missed the hidden reference too often (BS.1534-3)."""
    trials = result["trials"]
    missed = sum(1 for t in trials if t["ratings"].get("reference", 100.0) < SCREEN_RATING)
    return missed > SCREEN_FRACTION * len(trials)


def rating_summary(system: str, values: Sequence[float], confidence: float = 0.95) -> SystemRating:
    """Mean, sample standard deviation and the t-interval of ``values``."""
    array = np.asarray(values, dtype=float)
    mean = float(array.mean())
    if array.size < 2:
        return SystemRating(system, int(array.size), mean, math.nan, math.nan, math.nan)
    std = float(array.std(ddof=1))
    half = t_quantile_two_sided(confidence, array.size - 1) * std / math.sqrt(array.size)
    return SystemRating(system, int(array.size), mean, std, mean - half, mean + half)


def analyse(results: Sequence[dict[str, Any]], post_screen: bool = False) -> Analysis:
    """Pool every participant's ratings per condition and summarise them."""
    excluded = [r["_source"] for r in results if post_screen and fails_screening(r)]
    kept = [r for r in results if r["_source"] not in excluded]
    if not kept:
        raise ConsoleError("Post-screening left no participant; analyse without it.")
    pooled: dict[str, list[float]] = {}
    for result in kept:
        for trial in result["trials"]:
            for system, value in trial["ratings"].items():
                pooled.setdefault(system, []).append(float(value))
    ratings = sorted((rating_summary(s, v) for s, v in pooled.items()),
                     key=lambda r: -r.mean)
    return Analysis(ratings, len(kept), excluded)


def format_analysis(analysis: Analysis) -> str:
    lines = [f"{'system':<20} {'n':>4} {'mean':>6} {'95% CI':>15} {'std':>6}"]
    for r in analysis.ratings:
        ci = "n/a" if math.isnan(r.ci_low) else f"[{r.ci_low:5.1f}, {r.ci_high:5.1f}]"
        std = "n/a" if math.isnan(r.std) else f"{r.std:.1f}"
        lines.append(f"{r.system:<20} {r.count:>4} {r.mean:>6.1f} {ci:>15} {std:>6}")
    lines.append(f"{analysis.participants} participant(s)"
                 + (f"; {len(analysis.excluded)} excluded by post-screening"
                    if analysis.excluded else ""))
    return "\n".join(lines)


def check_analysis_folder(out_dir: Path, force: bool = False) -> None:
    """Before any results are read: refuse to replace an analysis file in ``out_dir``
    that console did not write, or that changed since, unless ``force``."""
    for name in ANALYSIS_FILES:
        check_replace(out_dir / name, force=force, what="analysis file")


def write_analysis(out_dir: Path, analysis: Analysis, force: bool = False) -> list[Path]:
    """``ratings.csv``, ``ratings.json`` and (with matplotlib) ``ratings.png`` in ``out_dir``;
    a file console did not write there, or that changed since, is replaced only with ``force``.
    """
    make_output_folder(out_dir, "analysis folder")
    rows = [attrs.asdict(r) for r in analysis.ratings]
    safe = [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()}
            for r in rows]
    texts = {
        "ratings.csv": to_csv(rows, [f.name for f in attrs.fields(SystemRating)]),
        "ratings.json": json.dumps({"participants": analysis.participants,
                                    "excluded": analysis.excluded, "confidence": 0.95,
                                    "ratings": safe}, indent=2),
    }
    written = []
    for name, text in texts.items():
        write_file(out_dir / name, lambda tmp, text=text: tmp.write_text(text, encoding="utf-8"),
                   force=force, what="analysis file", by=WRITER)
        written.append(out_dir / name)
    if pyplot() is not None:
        write_file(out_dir / "ratings.png", lambda tmp: _plot(tmp, analysis), force=force,
                   what="analysis file", by=WRITER)
        written.append(out_dir / "ratings.png")
    return written


def _plot(path: Path, analysis: Analysis) -> bool:
    plt = pyplot()
    if plt is None:
        return False
    ratings = analysis.ratings
    with png_figure(plt, path, dpi=110, figsize=(1.1 * len(ratings) + 2.0, 3.8)) as (_, ax):
        x = np.arange(len(ratings))
        means = np.array([r.mean for r in ratings])
        low = np.array([r.mean - r.ci_low if math.isfinite(r.ci_low) else 0 for r in ratings])
        high = np.array([r.ci_high - r.mean if math.isfinite(r.ci_high) else 0 for r in ratings])
        ax.errorbar(x, means, yerr=[low, high], fmt="o", capsize=5, color="C0")
        ax.set_xticks(x)
        ax.set_xticklabels([r.system for r in ratings], rotation=30, ha="right")
        ax.set_ylim(0, 100)
        ax.set_ylabel("rating (mean, 95% CI)")
        for edge in (20, 40, 60, 80):
            ax.axhline(edge, color="0.85", linewidth=0.8, zorder=0)
        ax.set_title(f"Listening test, {analysis.participants} participant(s)")
    return True
