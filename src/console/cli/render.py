"""``console render``: re-render a mix from stems and an (edited) params.json."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from console.audio import output_subtype, probe
from console.chain import EffectChain
from console.cli.mix import add_output_options, master_settings, stem_notes, warn_over_full_scale
from console.mix_params import MixParams
from console.output_paths import check_output_file, check_replace, refuse_inputs, write_file
from console.streaming import mix_frames, render_blocks, write_mix


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "render",
        help="re-render a mix from stems and a params.json",
        description="Apply the settings of PARAMS (written by `console mix`, possibly "
        "edited) to the stems in STEMS_DIR; no network is involved. The master stage "
        "saved in PARAMS is applied too, unless an option below changes it.",
    )
    parser.add_argument("stems_dir", type=Path, help="folder with the stems named in PARAMS")
    parser.add_argument("params", type=Path, help="MIX.params.json from `console mix`")
    parser.add_argument("-o", "--output", type=Path, required=True, help="mix file to write")
    add_output_options(parser, from_file=True)
    parser.add_argument("-q", "--quiet", action="store_true", help="print only errors")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    output = check_output_file(args.output, "mix")
    output_subtype(output, args.bit_depth)
    params = MixParams.load(args.params)
    settings = master_settings(args, params.master)
    chain = EffectChain.from_spec(params.spec)
    tensor = chain.to_tensor(params)  # validate before reading audio
    files = params.stem_files(args.stems_dir, str(args.params))
    refuse_inputs(output, [*files, args.params], args.stems_dir, "mix")
    check_replace(output, force=args.force, what="mix")
    say = (lambda _: None) if args.quiet else (
        lambda text: print(f"console render: {text}", file=sys.stderr)
    )
    infos = [probe(path) for path in files]
    for note in stem_notes(infos, params.sample_rate, strict_length=False):
        say(note)
    for note in params.channel_notes(infos, str(args.params)):
        say(note)
    paths = [i.path for i in infos]
    frames = mix_frames(paths, params.sample_rate)
    report = write_mix(
        render_blocks(chain, paths, tensor, params.sample_rate, frames, say, params.channels),
        frames,
        params.sample_rate, output, settings, args.bit_depth,
        save=lambda path, write: write_file(path, write, force=args.force, what="mix",
                                            by="console render"),
    )
    warn_over_full_scale(report, output,
                         lambda text: print(f"console render: warning: {text}", file=sys.stderr))
    if not args.quiet:
        print(report.describe())
        print(f"wrote {output}")
    return 0

