"""``console export``: open a mix in a DAW, as an Ardour session with every decision set."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

from console.audio import read_audio
from console.export.ardour_tools import ArdourError, find_exporter, render_with_ardour
from console.export.compare import compare_renders
from console.export.exporter import ExportResult, export_session
from console.master import MasterSettings
from console.mix_params import MixParams


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "export",
        help="write an Ardour session (and printed stems) from stems and a params.json",
        description="Write OUT as an Ardour 7 session folder: one track per stem with its "
        "fader, pan, EQ, compressor and reverb set on Ardour's own plugins (a-EQ, a-Comp, "
        "a-Reverb), the master stage on the master bus, plus printed stems (every track "
        "through its chain, post-fader, stereo) and a README listing every decision. An "
        "existing OUT is only replaced with --force, and only if console wrote it; files "
        "console did not write there, or that changed since (new takes, saved edits), are "
        "then moved to OUT.kept, never deleted.",
    )
    parser.add_argument("stems_dir", type=Path, help="folder with the stems named in PARAMS")
    parser.add_argument("params", type=Path, help="MIX.params.json from `console mix`")
    parser.add_argument("-o", "--output", type=Path, required=True, metavar="OUT",
                        help="session folder to write; its name becomes the session's name")
    add_export_options(parser)
    parser.add_argument("-q", "--quiet", action="store_true", help="print only errors")
    parser.set_defaults(func=run)


def add_export_options(parser: argparse.ArgumentParser) -> None:
    """The options ``export`` shares with ``mix --export``."""
    parser.add_argument("--force", action="store_true",
                        help="replace the session folder if it exists (one console wrote); "
                        "what console did not write there, or that changed, is moved to "
                        "OUT.kept")
    parser.add_argument("--no-master", action="store_true",
                        help="leave the master bus at 0 dB instead of the params file's master "
                        "stage")
    parser.add_argument("--check", action="store_true",
                        help="render the session with Ardour's own exporter (ardour7-export) "
                        "and print how far it is from console's mix")


def run(args: argparse.Namespace) -> int:
    if args.check and find_exporter() is None:
        raise ArdourError(
            "--check needs Ardour's headless exporter (ardour7-export), which is not installed; "
            "install Ardour (Debian: apt-get install ardour ardour-lv2-plugins) or leave out "
            "--check."
        )
    params = MixParams.load(args.params)
    say = (lambda _: None) if args.quiet else (
        lambda text: print(f"console export: {text}", file=sys.stderr))
    result = export_session(
        args.stems_dir, params, args.output, force=args.force,
        master_settings=MasterSettings.off() if args.no_master else None,
        params_label=str(args.params), protected=[args.params], progress=say,
    )
    report(result, args.quiet)
    if result.kept_note:
        print(f"console export: {result.kept_note}", file=sys.stderr)
    if args.check:
        check(result, args.quiet)
    return 0


def report(result: ExportResult, quiet: bool) -> None:
    """One line per track (level, pan, inserts), then where the session is."""
    if quiet:
        return
    for plan in result.tracks:
        inserts = ", ".join(p.name for p in plan.plugins) or "no inserts"
        printed = f"; printed: {', '.join(plan.printed)}" if plan.printed else ""
        notes = f"; {len(plan.notes)} note(s) in the README" if plan.notes else ""
        print(f"  {plan.name:<24} level {plan.level.total_db:+6.2f} dB  pan "
              f"{plan.panner.azimuth:.3f}  {inserts}{printed}{notes}")
    print(f"master bus {result.master_level.total_db:+.2f} dB")
    print(f"wrote {result.session_file}; open it in Ardour 7 or later (README.md beside it "
          f"lists every decision)")


def check(result: ExportResult, quiet: bool) -> None:
    """Render the session with Ardour and compare it with console's own mix."""
    with tempfile.TemporaryDirectory(prefix="console-export-check-") as tmp:
        rendered = render_with_ardour(result.folder, Path(tmp) / "ardour.wav")
        audio, _ = read_audio(rendered)
    comparison = compare_renders(result.mix.numpy(), audio.numpy())
    if not quiet:
        print(f"Ardour's render against console's mix: {comparison.describe()}")
