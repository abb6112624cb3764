"""``console train-emulator``: train a TCN emulator of the EQ, compressor or reverb."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from console.errors import ConsoleError
from console.plugins import get_plugins
from console.training import TrainConfig, Trainer
from console.training.emulator_data import EffectPairDataset, collate_pairs, split_clips
from console.training.emulator_task import EmulatorTask

FAMILIES = ("eq", "comp", "reverb")
SAMPLE_RATE = 44100


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "train-emulator",
        help="train a neural emulator of an effect from a reference",
        description="Train a conditioned TCN to emulate the EQ, compressor or reverb: real "
        "audio is processed at random settings by a reference (pedalboard where it maps "
        "faithfully and is installed, else the DSP effect) and the network learns to match "
        "it (L1 + multi-resolution STFT). Re-running with the same --out resumes. Use the "
        "result as FAMILY:tcn@OUT (or OUT/best.pt) in a spec.",
    )
    parser.add_argument("family", choices=FAMILIES, help="the effect to emulate")
    parser.add_argument("--out", type=Path, required=True, help="run folder (checkpoints)")
    parser.add_argument(
        "--audio", type=Path, default=None,
        help="folder of recordings (searched recursively; default: sonic-pi-samples if "
        "installed, else synthetic sessions). Files are split train/validation/test by a "
        "hash of their names.",
    )
    parser.add_argument(
        "--reference", choices=("auto", "pedalboard", "dsp"), default="auto",
        help="what to emulate: pedalboard's plugins or this project's DSP effect "
        "(auto: pedalboard where it maps and is installed)",
    )
    parser.add_argument("--steps", type=int, default=5000)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--warmup-steps", type=int, default=100)
    parser.add_argument("--val-every", type=int, default=250)
    parser.add_argument("--checkpoint-every", type=int, default=100)
    parser.add_argument("--val-examples", type=int, default=64)
    parser.add_argument(
        "--segment-seconds", type=float, default=None,
        help="length of each example (default: 1.5 s, 4 s for the reverb)",
    )
    parser.add_argument("--l1-weight", type=float, default=1.0, help="weight of the L1 term")
    parser.add_argument("--channels", type=int, default=None, help="TCN width (default 32)")
    parser.add_argument("--workers", type=int, default=0, help="DataLoader workers")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1 (default: auto)")
    parser.add_argument("--no-progress", action="store_true")
    parser.set_defaults(func=run)


def build_trainer(args: argparse.Namespace) -> tuple[Trainer, str]:
    """The trainer for ``args`` and a line describing the run."""
    import attrs

    component = get_plugins().resolve("effect", f"{args.family}:tcn")
    emulator_class = component.factory
    config = emulator_class.default_config()
    if args.channels is not None:
        config = attrs.evolve(config, channels=args.channels)
    emulator = emulator_class(config=config)
    reference = emulator_class.reference(args.reference)
    reference_name = emulator_class.reference_name(args.reference)
    seconds = args.segment_seconds or emulator_class.training_seconds
    segment = int(round(seconds * SAMPLE_RATE))
    clips, source = split_clips(args.audio, SAMPLE_RATE)
    specs = emulator_class.params
    examples = args.batch_size * 200
    train = EffectPairDataset(clips["train"], specs, reference, segment, examples, args.seed)
    val = (
        EffectPairDataset(clips["validation"], specs, reference, segment, args.val_examples,
                          args.seed + 1)
        if clips["validation"] else None
    )
    describe = {
        "name": f"emulator {component.name}",
        "effect": component.name,
        "reference": reference_name,
        "audio": source,
        "config": config.to_dict(),
        "sample_rate": SAMPLE_RATE,
        "segment_samples": segment,
        "seed": args.seed,
    }
    task = EmulatorTask(emulator, SAMPLE_RATE, describe, l1_weight=args.l1_weight)
    train_config = TrainConfig(
        steps=args.steps, batch_size=args.batch_size, lr=args.lr, weight_decay=0.0,
        warmup_steps=args.warmup_steps, val_every=args.val_every,
        checkpoint_every=args.checkpoint_every, num_workers=args.workers, seed=args.seed,
    )
    trainer = Trainer(
        task, train, collate_pairs, train_config, args.out, val_data=val, device=args.device,
        progress=not args.no_progress,
    )
    line = (
        f"{component.name}: {sum(p.numel() for p in emulator.parameters())} weights, receptive "
        f"field {emulator.receptive_field_s:.2f} s; reference {reference_name}; audio from "
        f"{source}; on {trainer.device}"
    )
    return trainer, line


def run(args: argparse.Namespace) -> int:
    if args.steps <= 0 or args.batch_size <= 0:
        raise ConsoleError("--steps and --batch-size must be positive.")
    trainer, line = build_trainer(args)
    print(f"console train-emulator: {line}", file=sys.stderr)
    if trainer.resume():
        print(f"console train-emulator: resumed at step {trainer.step}", file=sys.stderr)
    history = trainer.fit()
    best = f", best validation loss {history.best_val:.4f}" if history.val else ""
    print(
        f"console train-emulator: finished at step {trainer.step}{best}; use it as "
        f"{args.family}:tcn@{args.out}"
    )
    return 0
