"""``console render``: re-render a mix from stems and an (edited) params.json."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import torch

from console.audio import list_audio_files, load_stems, write_audio
from console.chain import EffectChain
from console.console import render
from console.errors import AudioInputError
from console.mix_params import MixParams


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "render",
        help="re-render a mix from stems and a params.json",
        description="Apply the settings of PARAMS (written by `console mix`, possibly "
        "edited) to the stems in STEMS_DIR; no network is involved.",
    )
    parser.add_argument("stems_dir", type=Path, help="folder with the stems named in PARAMS")
    parser.add_argument("params", type=Path, help="params.json from `console mix`")
    parser.add_argument("-o", "--output", type=Path, required=True, help="mix file to write")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    params = MixParams.load(args.params)
    chain = EffectChain.from_spec(params.spec)
    settings = chain.to_tensor(params)  # validate before reading audio
    available = {p.name: p for p in list_audio_files(args.stems_dir)}
    missing = [name for name in params.track_names if name not in available]
    if missing:
        raise AudioInputError(
            f"{args.params} has settings for {missing} but {args.stems_dir} has no such files."
        )
    unused = sorted(set(available) - set(params.track_names))
    if unused:
        raise AudioInputError(
            f"{args.stems_dir} has stems with no settings in {args.params}: {unused}; add "
            f"them to the file or move them out of the folder."
        )
    stems = load_stems(
        args.stems_dir,
        sample_rate=params.sample_rate,
        files=[available[name] for name in params.track_names],
    )
    with torch.no_grad():
        mix = render(chain, stems.audio[None], settings[None], sample_rate=stems.sample_rate)
    write_audio(args.output, mix[0], stems.sample_rate)
    print(f"wrote {args.output}")
    return 0
