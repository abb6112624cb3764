"""``console mix``: predict every track's settings and write the mix and its parameters."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs
import torch

from console import pretrained
from console.audio import (
    AUDIO_SUFFIXES,
    BIT_DEPTHS,
    AudioInfo,
    list_audio_files,
    output_subtype,
    probe,
)
from console.audio import check_sample_rate as audio_check_sample_rate
from console.cli.checks import parse_seed
from console.console import Console
from console.decisions import Decisions
from console.errors import AudioInputError, ConsoleError
from console.export.exporter import export_session
from console.export.folder import check_export_folder
from console.master import (
    DEFAULT_CEILING_DBFS,
    DEFAULT_LOUDNESS_LUFS,
    MasterReport,
    MasterSettings,
)
from console.mix_params import MixParams
from console.output_paths import check_output_file, check_replace, refuse_inputs, write_file
from console.stereo import check_channel_count
from console.streaming import Progress, decide_settings, mix_frames, render_blocks, write_mix

DEFAULT_SPEC = pretrained.DEFAULT
#: Said of a params file that changed since `console mix` wrote it.
PARAMS_EDITED = " (hand edits? `console render` applies them)"


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "mix",
        help="mix a folder of stems",
        description="Mix every audio file in STEMS_DIR (one stem per file) into a stereo "
        "file, and write the per-track decisions to an editable MIX.params.json beside it. "
        "Songs of any length are mixed whole, one track at a time. A master stage brings the "
        "mix to a listening loudness under a peak ceiling; nothing is ever clipped.",
    )
    parser.add_argument("stems_dir", type=Path, help="folder with one audio file per stem")
    parser.add_argument("-o", "--output", type=Path, required=True, help="mix file to write")
    parser.add_argument(
        "--params", type=Path, default=None,
        help="where to write the parameters (default: the mix's name with .params.json, "
        "e.g. song.params.json beside song.wav)",
    )
    parser.add_argument("--checkpoint", type=Path, default=None, help="a trained console")
    parser.add_argument(
        "--spec", default=DEFAULT_SPEC,
        help=f"without --checkpoint: the shipped console for this chain (default "
        f"{DEFAULT_SPEC!r}; shipped: {', '.join(pretrained.available())})",
    )
    parser.add_argument(
        "--untrained", action="store_true",
        help="use an untrained console for --spec (its decisions are arbitrary), e.g. for "
        "a chain no shipped console runs",
    )
    parser.add_argument("--encoder", default="mel-stats",
                        help="encoder of an untrained console (default mel-stats)")
    parser.add_argument("--seed", type=parse_seed, default=0,
                        help="initialisation seed (untrained)")
    parser.add_argument(
        "--sample-rate", type=int, default=None,
        help="mix sample rate in Hz (default: the highest among the stems)",
    )
    parser.add_argument(
        "--strict-length", action="store_true",
        help="refuse stems of different lengths instead of padding them with silence",
    )
    parser.add_argument(
        "--mono", action="store_true",
        help="mix stereo stems as mono tracks (their channels averaged) instead of keeping "
        "their image; a stereo stem is otherwise a stereo track with a balance control",
    )
    add_output_options(parser)
    parser.add_argument(
        "--export", type=Path, default=None, metavar="DIR",
        help="also write DIR as an Ardour session with every decision set, plus printed "
        "stems (see `console export`); DIR must not exist yet",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="print only errors")
    parser.set_defaults(func=run)


def add_output_options(parser: argparse.ArgumentParser, from_file: bool = False) -> None:
    """The master stage and file format options shared by ``mix`` and ``render``.

    With ``from_file`` (render) an option left out keeps what the params file says.
    """
    keep = " (default: as in PARAMS, else {})" if from_file else " (default {})"
    parser.add_argument(
        "--loudness", type=float, default=None if from_file else DEFAULT_LOUDNESS_LUFS,
        metavar="LUFS",
        help="master stage: integrated loudness of the mix" + keep.format(
            f"{DEFAULT_LOUDNESS_LUFS:g}"),
    )
    parser.add_argument(
        "--ceiling", type=float, default=None if from_file else DEFAULT_CEILING_DBFS,
        metavar="DBFS",
        help="master stage: highest sample peak; the loudness gain is lowered to respect it"
        + keep.format(f"{DEFAULT_CEILING_DBFS:g}"),
    )
    parser.add_argument(
        "--no-loudness", action="store_true", help="master stage: keep the mix's own loudness",
    )
    parser.add_argument(
        "--no-master", action="store_true",
        help="no master stage at all (the raw sum; integer formats then refuse a peak above "
        "0 dBFS)",
    )
    parser.add_argument(
        "--bit-depth", choices=BIT_DEPTHS, default=None,
        help="sample format (default: float for .wav/.aiff, 24 for .flac)",
    )
    parser.add_argument(
        "--force", action="store_true",
        help="replace the output files even if console did not write them or they changed "
        "since (e.g. a hand-edited params file); without it only unchanged output of an "
        "earlier run is replaced",
    )


def master_settings(
    args: argparse.Namespace, saved: MasterSettings | None = None
) -> MasterSettings:
    """The master stage the options ask for, validated before any audio is read.

    Options given on the command line win over ``saved`` (a params file's), which wins
    over the defaults.
    """
    if args.no_master:
        return MasterSettings.off()
    base = saved if saved is not None else MasterSettings()
    loudness = base.loudness_lufs if args.loudness is None else args.loudness
    ceiling = base.ceiling_dbfs if args.ceiling is None else args.ceiling
    try:
        return MasterSettings(
            loudness_lufs=None if args.no_loudness else loudness,
            ceiling_dbfs=ceiling,
        )
    except ValueError as exc:
        raise ConsoleError(str(exc).replace("master.loudness_lufs", "--loudness").replace(
            "master.ceiling_dbfs", "--ceiling")) from exc


def check_sample_rate(rate: int | None) -> None:
    if rate is not None:
        audio_check_sample_rate(rate, "--sample-rate")


def default_params_path(output: Path) -> Path:
    """``song.wav`` keeps its decisions in ``song.params.json``, so mixes can share a folder."""
    return output.with_name(f"{output.stem}.params.json")


def load_console(args: argparse.Namespace) -> Console:
    """The checkpoint given, else the shipped console for --spec, else an untrained one.

    An untrained console uses loudness-relative gains, so it mixes every stem equally
    loud rather than at random levels.
    """
    if args.checkpoint is not None:
        return Console.load(args.checkpoint)
    if not args.untrained:
        return pretrained.load_pretrained(args.spec)  # an unknown name lists the shipped ones
    print(
        f"console mix: no checkpoint given; using an untrained {args.spec!r} console "
        f"(seed {args.seed}). Its decisions are arbitrary until you train one.",
        file=sys.stderr,
    )
    torch.manual_seed(args.seed)
    return Console.from_spec(
        args.spec, encoder=args.encoder, decisions=Decisions.generalising()
    )


def run(args: argparse.Namespace) -> int:
    quiet = args.quiet
    say = (lambda _: None) if quiet else (
        lambda text: print(f"console mix: {text}", file=sys.stderr)
    )

    def warn(text: str) -> None:
        print(f"console mix: warning: {text}", file=sys.stderr)

    # Everything cheap is checked before any audio is read or any network is built.
    check_sample_rate(args.sample_rate)
    settings = master_settings(args)
    output = check_output_file(args.output, "mix")
    output_subtype(output, args.bit_depth)
    params_path = check_output_file(args.params or default_params_path(output), "parameter file")
    if params_path.resolve() == output.resolve():
        raise ConsoleError(f"The mix and its parameters cannot both be written to {output}.")
    files = list_audio_files(args.stems_dir)
    left_out = not_mixed(args.stems_dir)
    if left_out:
        warn(f"left out {', '.join(left_out)}: console mixes the audio files directly in "
             f"{args.stems_dir} ({', '.join(AUDIO_SUFFIXES)}); move or convert these to mix them")
    for path in (output, params_path):
        refuse_inputs(path, files, args.stems_dir if path == output else None,
                      "mix" if path == output else "parameter file")
    check_replace(output, force=args.force, what="mix")
    check_replace(params_path, force=args.force, what="parameter file", edited=PARAMS_EDITED)
    if args.export is not None:
        check_export_folder(args.export, False, [args.stems_dir, output, params_path])
    console = load_console(args).eval()
    infos = [probe(path) for path in files]
    sample_rate = int(args.sample_rate or max(i.sample_rate for i in infos))
    # A new mix takes mono and stereo stems; `console render` still averages a file of more
    # channels that a mix from before stereo tracks averaged.
    for info in infos:
        check_channel_count(info.path.name, info.channels)
    for note in stem_notes(infos, sample_rate, args.strict_length):
        say(note)
    paths = [i.path for i in infos]
    decided = decide_settings(console, paths, sample_rate, progress=say, warn=warn,
                              mono=args.mono)
    physical = decided.settings
    names = [i.path.name for i in infos]
    check_decisions(physical, names)
    params = MixParams.from_tensor(physical, console.layout, names, console.spec, sample_rate,
                                   decided.channels)
    params = attrs.evolve(params, master=settings)
    frames = mix_frames(paths, sample_rate)
    blocks = render_blocks(console.chain, paths, physical, sample_rate, frames, say,
                           decided.channels)
    report = write_mix(
        blocks, frames, sample_rate, output, settings, args.bit_depth,
        save=lambda path, write: write_file(path, write, force=args.force, what="mix",
                                            by="console mix"),
    )
    warn_over_full_scale(report, output, warn)
    write_file(params_path, params.save, force=args.force, what="parameter file",
               by="console mix", edited=PARAMS_EDITED)
    if not quiet:
        print_summary(params)
        print(report.describe())
        print(f"wrote {output}")
        print(f"wrote {params_path}; edit it and run `console render` to adjust the mix")
    if args.export is not None:
        exported = export_session(args.stems_dir, params, args.export,
                                  params_label=str(params_path),
                                  protected=[output, params_path], progress=say)
        if not quiet:
            print(f"wrote {exported.session_file}; open it in Ardour 7 or later")
    return 0


#: Suffixes of audio files console does not read: a stem saved so is left out of the mix.
OTHER_AUDIO_SUFFIXES = (".mp3", ".m4a", ".aac", ".wma", ".opus", ".aifc", ".caf", ".w64",
                        ".rf64", ".wv", ".ape", ".mp4")


def not_mixed(stems_dir: str | Path) -> list[str]:
    """What in ``stems_dir`` looks like a stem but is not mixed: folders holding audio files
    (only the files directly in ``stems_dir`` are stems) and audio in formats not read."""
    found = []
    for entry in sorted(Path(stems_dir).iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            if any(f.suffix.lower() in AUDIO_SUFFIXES + OTHER_AUDIO_SUFFIXES
                   and not f.name.startswith(".") for f in entry.rglob("*")):
                found.append(f"{entry.name}/")
        elif entry.suffix.lower() in OTHER_AUDIO_SUFFIXES:
            found.append(entry.name)
    return found


def warn_over_full_scale(report: MasterReport, output: Path, warn: Progress) -> None:
    """A float file may hold peaks above 0 dBFS, but most players will clip them: say so."""
    if report.output_peak_dbfs > 0.0:
        warn(f"{output.name} peaks at {report.output_peak_dbfs:+.1f} dBFS; it is kept in "
             f"32-bit float, but players will clip it (drop --no-master to keep a ceiling)")


def stem_notes(infos: Sequence[AudioInfo], sample_rate: int, strict_length: bool) -> list[str]:
    """What will be done to each stem to mix it, naming the file; refuses unequal lengths."""
    notes = []
    for info in infos:
        if info.sample_rate != sample_rate:
            notes.append(
                f"{info.path.name}: resampled from {info.sample_rate} Hz to {sample_rate} Hz"
            )
    seconds = [i.frames / i.sample_rate for i in infos]
    longest = max(seconds)
    short = [(i, s) for i, s in zip(infos, seconds, strict=True)
             if round(s * sample_rate) < round(longest * sample_rate)]
    if short and strict_length:
        detail = ", ".join(f"{i.path.name}: {s:.2f} s" for i, s in zip(infos, seconds,
                                                                       strict=True))
        raise AudioInputError(
            f"The stems have different lengths ({detail}); trim them to one length or drop "
            f"--strict-length to pad them with silence."
        )
    for info, length in short:
        notes.append(
            f"{info.path.name}: {length:.2f} s, {longest - length:.2f} s shorter than the "
            f"longest stem; padded with silence (a truncated file?)"
        )
    return notes


def check_decisions(physical: torch.Tensor, names: Sequence[str]) -> None:
    """Refuse NaN or infinite settings before anything is rendered or written.

    (A mix that comes out NaN or infinite is refused by :func:`console.streaming.write_mix`.)
    """
    bad = [name for name, row in zip(names, physical, strict=True)
           if not bool(torch.isfinite(row).all())]
    if bad:
        raise ConsoleError(
            f"The console predicted non-finite settings for {', '.join(bad)}; its weights are "
            f"broken. Nothing was written; use another checkpoint or retrain."
        )


def print_summary(params: MixParams) -> None:
    """One line per track with every decision in physical units (stereo tracks marked)."""
    for track in params.tracks:
        settings = "  ".join(
            f"{key}.{name}={value:g}"
            for key, values in track.effects.items()
            for name, value in values.items()
        )
        kind = "stereo " if track.channels == 2 else ""
        print(f"  {track.name:<24} {kind}{settings}")
