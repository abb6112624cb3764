"""``console train``: train a console on multitracks; scales out under ``torchrun``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from console.console import Console
from console.errors import ConsoleError
from console.mixer import create_mixer
from console.plugins import get_plugins
from console.training import TrainConfig, Trainer, distributed
from console.training.mixer_task import MixerTask
from console.training.mixing_task import MixingTask

LAYOUTS = ("auto", "folder", "enst", "medleydb")


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train a console on multitracks",
        description="Train a console on songs in the plain folder layout, ENST-drums or "
        "MedleyDB. Run under `torchrun --nproc_per_node N` to train on N processes. "
        "Re-running with the same --out resumes from the last checkpoint.",
    )
    parser.add_argument("--spec", default="gain+pan", help="effect chain, e.g. gain+eq+comp+pan")
    parser.add_argument("--data", type=Path, required=True, help="dataset root or song folder")
    parser.add_argument("--out", type=Path, required=True, help="run folder (checkpoints)")
    parser.add_argument("--layout", choices=LAYOUTS, default="auto")
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--weight-decay", type=float, default=1e-2)
    parser.add_argument("--warmup-steps", type=int, default=100)
    parser.add_argument("--schedule", choices=("cosine", "constant"), default="cosine")
    parser.add_argument("--grad-clip", type=float, default=1.0)
    parser.add_argument("--val-every", type=int, default=500)
    parser.add_argument("--checkpoint-every", type=int, default=100)
    parser.add_argument("--segment-seconds", type=float, default=3.0)
    parser.add_argument("--examples-per-epoch", type=int, default=None)
    parser.add_argument("--sample-rate", type=int, default=44100)
    parser.add_argument("--split", default="0.8,0.1,0.1", help="train,validation,test fractions")
    parser.add_argument("--encoder", default="vggish")
    parser.add_argument(
        "--encoder-options", type=json.loads, default={},
        help='JSON keyword options of the encoder, e.g. \'{"weights": "vggish.pth"}\'',
    )
    parser.add_argument("--hidden", type=int, default=256, help="post-processor width")
    parser.add_argument("--loss", default="stereo", help="a registered loss (`console plugins`)")
    parser.add_argument(
        "--loss-options", type=json.loads, default={},
        help='JSON keyword options of the loss, e.g. \'{"w_balance": 0.25}\'',
    )
    parser.add_argument("--mixer", default=None, help="train a registered mixer (wave-u-net) "
                        "instead of a console; --spec, --encoder and --hidden are then unused")
    parser.add_argument("--mixer-options", type=json.loads, default={},
                        help='JSON keyword options of the mixer, e.g. \'{"levels": 5}\'')
    parser.add_argument(
        "--init", default=None, help="start from a console checkpoint or a shipped console's "
        "spec (e.g. gain+pan): every weight whose name and shape fit is copied",
    )
    parser.add_argument("--freeze-encoder", action="store_true")
    parser.add_argument(
        "--train-effects", action="store_true", help="also train effects that have weights"
    )
    parser.add_argument("--workers", type=int, default=0, help="DataLoader workers")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1 (default: auto)")
    parser.add_argument("--no-progress", action="store_true")
    parser.set_defaults(func=run)


def detect_layout(root: Path) -> str:
    """Guess a dataset's layout from its folder names."""
    if not root.is_dir():
        raise ConsoleError(f"The dataset folder {root} does not exist.")
    if any(root.glob("drummer_*")):
        return "enst"
    if any(root.glob("*/*_METADATA.yaml")) or any(root.glob("*/*_STEMS")):
        return "medleydb"
    return "folder"


def scan(root: Path, layout: str) -> list:
    from console.data import scan_enst, scan_folder, scan_medleydb

    layout = detect_layout(root) if layout == "auto" else layout
    songs = {"folder": scan_folder, "enst": scan_enst, "medleydb": scan_medleydb}[layout](root)
    if not songs:
        raise ConsoleError(
            f"No songs found in {root} as a {layout} dataset; see the docs page on data "
            f"layouts or pass --layout."
        )
    return songs


def run(args: argparse.Namespace) -> int:
    from console.data import MultitrackDataset, collate_examples, split_songs

    distributed.init_from_env()
    songs = scan(args.data, args.layout)
    fractions = tuple(float(x) for x in args.split.split(","))
    if len(fractions) != 3:
        raise ConsoleError("--split takes three fractions: train,validation,test.")
    splits = split_songs(songs, fractions, seed=args.seed, by_group=args.layout == "enst")
    if not splits.train:
        raise ConsoleError("The split left no training songs; add songs or change --split.")
    common = {"sample_rate": args.sample_rate, "segment_seconds": args.segment_seconds}
    train_data = MultitrackDataset(
        splits.train, examples_per_epoch=args.examples_per_epoch, seed=args.seed, **common
    )
    val_data = (
        MultitrackDataset(splits.validation, seed=args.seed + 1, **common)
        if splits.validation else None
    )
    try:
        loss = get_plugins().resolve("loss", args.loss).create(**args.loss_options)
    except TypeError as exc:
        raise ConsoleError(f"--loss-options do not fit the loss {args.loss!r}: {exc}") from exc
    if args.mixer:
        task = MixerTask(create_mixer(args.mixer, **args.mixer_options), loss, args.sample_rate)
    else:
        console = Console.from_spec(
            args.spec, encoder=args.encoder, encoder_options=args.encoder_options,
            hidden=args.hidden,
        )
        if args.init:
            from console.training.warm_start import warm_start

            started = warm_start(console, args.init)
            if distributed.rank() == 0:
                print(f"console train: {started.summary()}", file=sys.stderr)
        task = MixingTask(
            console, loss, args.sample_rate, args.freeze_encoder, args.train_effects
        )
    config = TrainConfig(
        steps=args.steps, batch_size=args.batch_size, lr=args.lr,
        weight_decay=args.weight_decay, warmup_steps=args.warmup_steps,
        schedule=args.schedule, grad_clip=args.grad_clip, val_every=args.val_every,
        checkpoint_every=args.checkpoint_every, num_workers=args.workers, seed=args.seed,
    )
    trainer = Trainer(
        task, train_data, collate_examples, config, args.out, val_data=val_data,
        device=args.device, progress=not args.no_progress,
    )
    if distributed.rank() == 0:
        print(
            f"console train: {len(splits.train)} training, {len(splits.validation)} "
            f"validation, {len(splits.test)} test songs; {task.describe()['name']}; "
            f"{distributed.world_size()} process(es) on {trainer.device}",
            file=sys.stderr,
        )
    if trainer.resume():
        print(f"console train: resumed at step {trainer.step}", file=sys.stderr)
    history = trainer.fit()
    if distributed.rank() == 0:
        best = f", best validation loss {history.best_val:.4f}" if history.val else ""
        print(f"console train: finished at step {trainer.step}{best}; weights in {args.out}")
    return 0
