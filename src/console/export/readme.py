"""The README of an export folder: how to open it, and every decision, where it went.

Written for the engineer who takes the mix over: each track's settings in our
units next to the Ardour control that carries them, the values Ardour could not
take as they were, and what has no Ardour counterpart at all.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from console.export.ardour_controls import PANNER_1IN2OUT, LevelStage
from console.export.plan import TrackPlan
from console.master import MasterReport
from console.mix_params import MixParams

_PANNERS = {PANNER_1IN2OUT: "equal power (mono)"}


def _db(value: float) -> str:
    return f"{value:+.2f} dB" if math.isfinite(value) else "-inf dB"


def _value(value: float, unit: str) -> str:
    shown = f"{value:.4g}"
    if unit == "Q":
        return f"Q {shown}"
    if unit in ("", "position", "fraction", "ratio"):
        return shown
    return f"{shown} {unit}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _track_section(plan: TrackPlan) -> list[str]:
    panner = _PANNERS.get(plan.panner.uri, "balance (stereo)")
    lines = [
        f"### {plan.name}  (`{plan.stem}`)",
        "",
        f"Trim {_db(plan.level.trim_db)}, fader {_db(plan.level.fader_db)}, panner "
        f"{panner} at {plan.panner.azimuth:.4f} (0 left, 1 right; its law differs from ours "
        f"by {_db(plan.panner.correction_db)}, which the fader includes).",
        "",
    ]
    if plan.stem_channels == 2:
        lines += [
            "A stereo stem, on a stereo track (its left and right channels as two files). "
            "The balance panner keeps the recorded image at 0.5 and turns the far side "
            "down as it moves; that is what `pan.balance` did here.",
            "",
        ]
    if plan.plugins:
        lines.append("Inserts, after the fader: " + ", ".join(
            f"{p.name}" + (f" x{p.count}" if p.count > 1 else "") for p in plan.plugins) + ".")
        lines.append("")
    lines += ["| decision | value | in Ardour |", "|---|---|---|"]
    for decision in plan.decisions:
        where = decision.ardour if decision.kind != "none" else f"nothing: {decision.ardour}"
        lines.append(f"| `{decision.parameter}` | {_value(decision.value, decision.unit)} | "
                     f"{_cell(where)} |")
    if plan.notes:
        lines += ["", "Notes:", ""] + [f"- {note}" for note in plan.notes]
    return [*lines, ""]


def readme_text(
    *,
    name: str,
    params: MixParams,
    plans: Sequence[TrackPlan],
    report: MasterReport,
    master_level: LevelStage,
    frames: int,
    printed_folder: str,
    params_name: str,
) -> str:
    """The README's Markdown."""
    rate = params.sample_rate
    settings = report.settings
    if settings.enabled:
        master = (
            f"The master stage ({_target(settings.loudness_lufs, 'LUFS')} loudness, "
            f"{_target(settings.ceiling_dbfs, 'dBFS')} sample-peak ceiling) measured the mix "
            f"at {report.input_lufs:.1f} LUFS and applies {_db(report.gain_db)}: on the master "
            f"bus, trim {_db(master_level.trim_db)} and fader {_db(master_level.fader_db)}."
        )
        if master_level.held:
            master += " That is beyond what trim and fader reach together; it is held there."
    else:
        master = "The master stage is off: the master bus is at 0 dB."
    lines = [
        f"# {name}: the mix as an Ardour session",
        "",
        f"Written by `console export` from the decisions in `{params_name}` (chain "
        f"`{params.spec}`, {len(plans)} tracks, {rate} Hz, {frames / rate:.2f} s).",
        "",
        "## Open it",
        "",
        f"In Ardour 7 or later: Session > Open, and choose `{name}.ardour` in this folder. "
        f"The inserts are Ardour's own plugins (ACE EQ, ACE Compressor, ACE Reverb; on Debian "
        f"the package `ardour-lv2-plugins`). Without opening Ardour, "
        f"`ardour7-export -b float -o mix.wav {name} {name}` renders it.",
        "",
        "## What is here",
        "",
        f"- `{name}.ardour`, `interchange/{name}/audiofiles/`: the session and the audio it "
        f"plays, one mono float WAV per channel at {rate} Hz.",
        f"- `{printed_folder}/`: every track printed through its whole chain, post-fader, "
        f"stereo, all {frames} samples long. Import them into any DAW at 0 dB, centred: "
        f"their sum is the mix before the master stage.",
        f"- `{params_name}`: the decisions; `console render STEMS {params_name} -o mix.wav` "
        f"renders them again.",
        "",
        "## How a track maps",
        "",
        "Our chain applies the gain first and pans last, so each Ardour track has its trim "
        "and fader first (they carry the gain, and the small level by which Ardour's pan law "
        "differs from ours), then the inserts in the chain's order (post-fader), then the "
        "panner. Gain and pan are exact; Ardour's EQ, compressor and reverb are not the same "
        "DSP as ours, so those tracks sound close, not identical. The documentation's page "
        "*Open the mix in a DAW* gives the measured differences.",
        "",
        "## Master",
        "",
        master,
        "",
        "## Tracks",
        "",
    ]
    for plan in plans:
        lines += _track_section(plan)
    return "\n".join(lines).rstrip() + "\n"


def _target(value: float | None, unit: str) -> str:
    return "no" if value is None else f"{value:g} {unit}"
