"""``console mix``: predict every track's settings and write the mix and its parameters."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import torch

from console import pretrained
from console.audio import list_audio_files, probe, write_audio
from console.console import Console
from console.mix_params import MixParams
from console.streaming import stream_mix

DEFAULT_SPEC = pretrained.DEFAULT


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "mix",
        help="mix a folder of stems",
        description="Mix every audio file in STEMS_DIR (one stem per file) into a stereo "
        "file, and write the per-track decisions to an editable params.json. Songs of any "
        "length are mixed whole, one track at a time.",
    )
    parser.add_argument("stems_dir", type=Path, help="folder with one audio file per stem")
    parser.add_argument("-o", "--output", type=Path, required=True, help="mix file to write")
    parser.add_argument(
        "--params", type=Path, default=None,
        help="where to write the parameters (default: params.json beside the mix)",
    )
    parser.add_argument("--checkpoint", type=Path, default=None, help="a trained console")
    parser.add_argument(
        "--spec", default=DEFAULT_SPEC,
        help=f"without --checkpoint: the shipped console for this chain, or an untrained one "
        f"when none is shipped (default {DEFAULT_SPEC!r})",
    )
    parser.add_argument(
        "--untrained", action="store_true",
        help="use an untrained console even where a pretrained one is shipped",
    )
    parser.add_argument("--encoder", default="vggish", help="encoder of an untrained console")
    parser.add_argument("--seed", type=int, default=0, help="initialisation seed (untrained)")
    parser.add_argument(
        "--sample-rate", type=int, default=None,
        help="mix sample rate (default: the highest among the stems)",
    )
    parser.add_argument(
        "--strict-length", action="store_true",
        help="refuse stems of different lengths instead of padding them with silence",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="print only errors")
    parser.set_defaults(func=run)


def load_console(args: argparse.Namespace) -> Console:
    if args.checkpoint is not None:
        return Console.load(args.checkpoint)
    if not getattr(args, "untrained", False) and args.spec in pretrained.available():
        return pretrained.load_pretrained(args.spec)
    print(
        f"console mix: no checkpoint given; using an untrained {args.spec!r} console "
        f"(seed {args.seed}). Its decisions are arbitrary until you train one.",
        file=sys.stderr,
    )
    torch.manual_seed(args.seed)
    return Console.from_spec(args.spec, encoder=args.encoder)


def run(args: argparse.Namespace) -> int:
    say = (lambda _: None) if getattr(args, "quiet", False) else (
        lambda text: print(f"console mix: {text}", file=sys.stderr)
    )
    infos = [probe(path) for path in list_audio_files(args.stems_dir)]
    sample_rate = int(args.sample_rate or max(i.sample_rate for i in infos))
    for info in infos:
        if info.sample_rate != sample_rate:
            say(f"{info.path.name}: resampled from {info.sample_rate} Hz to {sample_rate} Hz")
        if info.channels > 1:
            say(f"{info.path.name}: {info.channels} channels averaged to mono")
    if len({round(i.frames * sample_rate / i.sample_rate) for i in infos}) > 1:
        if not args.strict_length:
            say("shorter stems padded with silence to the longest")
    console = load_console(args).eval()
    mix, physical = stream_mix(
        console, [i.path for i in infos], sample_rate, pad=not args.strict_length, progress=say
    )
    names = [i.path.name for i in infos]
    params = MixParams.from_tensor(physical, console.layout, names, console.spec, sample_rate)
    params_path = args.params or args.output.with_name("params.json")
    write_audio(args.output, mix, sample_rate)
    params.save(params_path)
    if not getattr(args, "quiet", False):
        print_summary(params)
        peak = float(mix.abs().max())
        print(f"wrote {args.output} (peak {20 * torch.log10(torch.tensor(peak + 1e-12)):.1f} dBFS)")
        print(f"wrote {params_path}; edit it and run `console render` to adjust the mix")
    return 0


def print_summary(params: MixParams) -> None:
    """One line per track with every decision in physical units."""
    for track in params.tracks:
        settings = "  ".join(
            f"{key}.{name}={value:g}"
            for key, values in track.effects.items()
            for name, value in values.items()
        )
        print(f"  {track.name:<24} {settings}")
