"""``console train``: train a console on multitracks; scales out under ``torchrun``."""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from pathlib import Path
from typing import Any

from console.audio import check_sample_rate
from console.cli.checks import check_device, check_seconds, parse_seed
from console.console import (
    DEFAULT_ENCODER,
    DEFAULT_ENCODER_OPTIONS,
    DEFAULT_HIDDEN,
    DEFAULT_POST_PROCESSOR,
    Console,
)
from console.decisions import Decisions
from console.errors import ConsoleError
from console.mixer import create_mixer
from console.plugins import get_plugins
from console.post_processor import POST_PROCESSORS
from console.training import TrainConfig, Trainer, distributed
from console.training.config import MAX_LEARNING_RATE
from console.training.loop import check_run_folder
from console.training.mixer_task import MixerTask
from console.training.mixing_task import RECOMMENDED_WEIGHTS, MixingTask

#: What a new console decides and how, unless told (Console.from_spec's default too).
DEFAULT_DECISIONS = Decisions.generalising()

LAYOUTS = ("auto", "folder", "enst", "medleydb")


#: How long ``console train`` trains unless told otherwise (the console it builds is
#: ``Console.from_spec``'s default; see console.console).
DEFAULT_STEPS = 1500


#: The chain ``console train`` trains when neither ``--spec`` nor ``--init`` says.
DEFAULT_SPEC = "gain+pan"


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train a console on multitracks",
        description="Train a console on songs in the plain folder layout, ENST-drums or "
        "MedleyDB. The defaults train a good gain+pan console on a 2-core CPU. Run under "
        "`torchrun --nproc_per_node N` to train on N processes. Re-running with the same "
        "--out resumes from the last checkpoint.",
        epilog=RUN_FOLDER_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = parser.add_argument
    add("--spec", default=None,
        help="effect chain, e.g. gain+eq+comp+pan (default gain+pan; with --init, the "
        "donor's chain)")
    add("--data", type=Path, required=True, help="dataset root or song folder")
    add("--out", type=Path, required=True, help="run folder (checkpoints)")
    add("--layout", choices=LAYOUTS, default="auto", help="dataset layout (default %(default)s)")
    add("--steps", type=int, default=None,
        help=f"optimiser steps (default {DEFAULT_STEPS}, or as many as --max-time allows)")
    add("--max-time", type=parse_duration, default=None, metavar="DURATION",
        help="time budget of this invocation, e.g. 20m, 90s, 1h30m: the run plans its "
        "steps to end there (with the schedule decayed) and stops when it is spent")
    add("--batch-size", type=int, default=4, help="songs per step (default %(default)s)")
    add("--lr", type=float, default=1e-3,
        help="AdamW learning rate, above 0 and at most 1 (default %(default)g)")
    add("--weight-decay", type=float, default=1e-2, help="AdamW weight decay (default %(default)g)")
    add("--warmup-steps", type=int, default=50, help="linear warm-up (default %(default)s)")
    add("--schedule", choices=("cosine", "constant"), default="cosine",
        help="learning rate after warm-up (default %(default)s)")
    add("--grad-clip", type=float, default=1.0,
        help="gradient norm clipping, 0 for none (default %(default)g)")
    add("--val-every", type=int, default=None,
        help="steps between validation passes (default: 10 passes over the run)")
    add("--checkpoint-every", type=int, default=100,
        help="steps between checkpoints (default %(default)s)")
    add("--segment-seconds", type=float, default=3.0,
        help="length of a training segment (default %(default)g)")
    add("--stereo", action="store_true",
        help="read stereo stems as stereo tracks, as `console mix` does (their levels "
        "learned by the loudness of both channels, their image kept); default: every stem "
        "averaged to mono")
    add("--examples-per-epoch", type=int, default=None,
        help="segments per epoch (default: one per training song)")
    add("--sample-rate", type=int, default=22050,
        help="training sample rate; songs at other rates are resampled as they are read "
        "(default %(default)s)")
    add("--split", default="0.8,0.1,0.1",
        help="train,validation,test fractions, by song (default %(default)s; with "
        "--val-data, every song of --data trains)")
    add("--val-data", type=Path, default=None,
        help="validate on the songs of this folder instead of a split of --data, e.g. "
        "recordings from a source the training songs do not come from")
    add("--encoder", default=DEFAULT_ENCODER, help="a registered encoder (default %(default)s)")
    add("--encoder-options", type=json.loads, default=None,
        help='JSON keyword options of the encoder, e.g. \'{"weights": "vggish.pth"}\' '
        f"(default {json.dumps(DEFAULT_ENCODER_OPTIONS)} for {DEFAULT_ENCODER}, none for "
        "the others; with --init, the donor's)")
    add("--hidden", type=int, default=None,
        help=f"post-processor width (default {DEFAULT_HIDDEN}; with --init, the donor's)")
    add("--post-processor", choices=POST_PROCESSORS, default=None,
        help="the paper's shared per-track MLP (mlp), or one whose tracks attend to the other "
        f"tracks of their song (set) (default {DEFAULT_POST_PROCESSOR}; with --init, the "
        "donor's)")
    add("--level", choices=("loudness", "absolute"), default=None,
        help="gains relative to each track's measured loudness, or absolute as in the paper "
        f"(default {DEFAULT_DECISIONS.level}; with --init, the donor's)")
    add("--pan", choices=("balanced", "free"), default=None,
        help="pans whose sides balance the stereo field, or predicted freely as in the paper "
        f"(default {DEFAULT_DECISIONS.pan}; with --init, the donor's)")
    add("--loss", default="stereo", help="a registered loss, see `console plugins` "
        "(default %(default)s)")
    add("--loss-options", type=json.loads, default={},
        help='JSON keyword options of the loss, e.g. \'{"w_balance": 0.25}\' (default none)')
    add("--mixer", default=None, help="train a registered mixer (wave-u-net) instead of a "
        "console; --spec, --encoder and --hidden are then unused")
    add("--mixer-options", type=json.loads, default={},
        help='JSON keyword options of the mixer, e.g. \'{"levels": 5}\' (default none)')
    add("--init", default=None, help="start from a console checkpoint or a shipped console's "
        "spec (e.g. gain+pan): every weight whose name and shape fit is copied")
    add("--pan-weight", type=float, default=None,
        help="also hold each track's distance from the centre to the reference mix's, where "
        "the song folder's params.json records it (generated sessions do), with this weight "
        "beside the mix loss; 0 trains on the mix alone (default "
        f"{RECOMMENDED_WEIGHTS['pan_weight']:g} where the chain has a pan)")
    add("--level-weight", type=float, default=None,
        help="also hold each track's level relative to its song's other tracks to the "
        "reference mix's, in dB, where the song folder's params.json records the faders "
        "(generated sessions do), with this weight per dB beside the mix loss; 0 trains "
        f"the levels on the mix alone (default {RECOMMENDED_WEIGHTS['level_weight']:g} where "
        "the chain has a gain)")
    add("--effect-weight", type=float, default=None,
        help="also hold every other setting the song folder's params.json records (a full "
        "chain's EQ, compressor and reverb, by parameter name) to the reference's, as the "
        "mean error of the settings normalised to [0, 1], with this weight; 0 trains them on "
        f"the mix alone (default {RECOMMENDED_WEIGHTS['effect_weight']:g} where the chain "
        "has such settings)")
    add("--freeze-encoder", action="store_true", help="train only the post-processor")
    add("--train-effects", action="store_true", help="also train effects that have weights")
    add("--workers", type=int, default=0, help="DataLoader workers (default %(default)s)")
    add("--seed", type=parse_seed, default=0,
        help="seed of the weights, the split and the batches (default %(default)s)")
    add("--device", default=None, help="cpu, cuda, cuda:1 (default: cuda when present)")
    add("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def parse_duration(text: str) -> float:
    """Seconds in ``"20m"``, ``"90s"``, ``"1h30m"`` or a plain number of seconds."""
    match = re.fullmatch(r"\s*(?:(\d+(?:\.\d+)?)h)?\s*(?:(\d+(?:\.\d+)?)m)?\s*"
                         r"(?:(\d+(?:\.\d+)?)s?)?\s*", text)
    if not text.strip() or match is None or not any(match.groups()):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a duration; write e.g. 20m, 90s or 1h30m"
        )
    hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    total = 3600 * hours + 60 * minutes + seconds
    if total <= 0:
        raise argparse.ArgumentTypeError(f"the duration {text!r} must be positive")
    return total


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
    from console.data import MultitrackDataset, Splits, collate_examples, split_songs
    from console.data.checks import check_songs

    check_arguments(args)
    check_run_folder(args.out)  # a file, or a finished run that cannot resume: before any work
    distributed.init_from_env()
    seed_everything(args.seed)  # before any weight is drawn: same seed, same run
    task = build_task(args)
    found = scan(args.data, args.layout)
    # Unusable songs are dropped before the split, so it divides only songs that can train.
    usable = [c.song for c in check_songs(found, args.sample_rate, resample=True)]
    if not usable:
        raise ConsoleError(
            f"None of the {len(found)} songs in {args.data} can be used (see the warnings "
            f"above for each file); fix or remove those files."
        )
    if args.val_data is not None:
        held = [c.song for c in check_songs(scan(args.val_data, args.layout), args.sample_rate,
                                             resample=True)]
        if not held:
            raise ConsoleError(f"None of the songs in {args.val_data} can be used to validate.")
        splits = Splits(train=sorted(usable, key=lambda s: s.name), validation=held, test=[])
    else:
        splits = split_songs(usable, split_fractions(args.split), seed=args.seed,
                             by_group=args.layout == "enst")
    if not splits.train:
        raise ConsoleError("The split left no training songs; add songs or change --split.")
    common = {"sample_rate": args.sample_rate, "segment_seconds": args.segment_seconds,
              "resample": True, "targets": getattr(task, "target_layout", None),
              "stereo": getattr(args, "stereo", False)}
    train_data = MultitrackDataset(
        splits.train, examples_per_epoch=args.examples_per_epoch, seed=args.seed, **common
    )
    val_data = (
        MultitrackDataset(splits.validation, seed=args.seed + 1, **common)
        if splits.validation else None
    )
    steps = args.steps or (MANY_STEPS if args.max_time else DEFAULT_STEPS)
    config = TrainConfig(
        steps=steps, batch_size=args.batch_size, lr=args.lr,
        weight_decay=args.weight_decay, warmup_steps=args.warmup_steps,
        schedule=args.schedule, grad_clip=args.grad_clip,
        val_every=args.val_every or max(1, steps // VALIDATIONS),
        checkpoint_every=args.checkpoint_every, num_workers=args.workers, seed=args.seed,
    )
    if isinstance(task, MixingTask):  # a frozen encoder hears each stem once, whole
        task.know_songs([*splits.train, *splits.validation])
    trainer = Trainer(
        task, train_data, collate_examples, config, args.out, val_data=val_data,
        device=args.device, progress=not args.no_progress,
    )
    if distributed.rank() == 0:
        dropped = len(found) - len(usable)
        print(
            f"console train: {len(splits.train)} training, {len(splits.validation)} "
            f"validation, {len(splits.test)} test songs"
            + (f" ({dropped} unusable song(s) left out)" if dropped else "")
            + f"; {task.describe()['name']}; {distributed.world_size()} process(es) on "
            f"{trainer.device}",
            file=sys.stderr,
        )
    if trainer.resume():
        print(f"console train: resumed at step {trainer.step}", file=sys.stderr)
    history = trainer.fit(
        max_seconds=args.max_time, validations=None if args.val_every else VALIDATIONS
    )
    if distributed.rank() == 0:
        best = f", best validation loss {history.best_val:.4f}" if history.val else ""
        print(f"console train: finished at step {trainer.step}{best}; weights in {args.out}")
    return 0


#: Validation passes over a run when --val-every is not given.
VALIDATIONS = 10
#: The step count a time-budgeted run starts from before it plans the real one.
MANY_STEPS = 10_000_000
#: The longest --segment-seconds: a batch holds every stem of each song for this long.
MAX_SEGMENT_SECONDS = 600.0


def check_arguments(args: argparse.Namespace) -> None:
    """Refuse nonsense before any file is read."""
    for name in ("steps", "batch_size", "val_every", "checkpoint_every", "sample_rate",
                 "hidden"):
        value = getattr(args, name)
        if value is not None and value <= 0:
            raise ConsoleError(f"--{name.replace('_', '-')} must be positive, got {value}.")
    check_sample_rate(args.sample_rate, "--sample-rate")
    check_learning_rate(args.lr)
    check_seconds(args.segment_seconds, "--segment-seconds", 0, MAX_SEGMENT_SECONDS)
    if getattr(args, "stereo", False) and args.mixer is not None:
        raise ConsoleError(
            f"--stereo trains a console on stereo tracks; the mixer {args.mixer!r} mixes mono "
            f"tracks only: drop --stereo to train it on the stems averaged to mono."
        )
    for name in ("workers", "warmup_steps"):
        if getattr(args, name) < 0:
            raise ConsoleError(f"--{name.replace('_', '-')} must be 0 or more, got "
                               f"{getattr(args, name)}.")
    if args.examples_per_epoch is not None and args.examples_per_epoch <= 0:
        raise ConsoleError(f"--examples-per-epoch must be positive, got "
                           f"{args.examples_per_epoch}.")
    check_device(args.device)
    for name in ("weight_decay", "grad_clip"):
        value = getattr(args, name)
        if not (math.isfinite(value) and value >= 0):
            raise ConsoleError(f"--{name.replace('_', '-')} must be a number, 0 or more, got "
                               f"{value}.")
    split_fractions(args.split)


def check_learning_rate(lr: float, option: str = "--lr") -> None:
    """A finite learning rate in ``(0, MAX_LEARNING_RATE]``: anything else only diverges."""
    if not (math.isfinite(lr) and 0 < lr <= MAX_LEARNING_RATE):
        raise ConsoleError(
            f"{option} must be a number above 0 and at most {MAX_LEARNING_RATE:g}, got {lr}: "
            f"AdamW moves every weight by about the learning rate each step, so above "
            f"{MAX_LEARNING_RATE:g} weights jump past their own size and the run diverges "
            f"(the default is 1e-3)."
        )


def check_segment_length(args: argparse.Namespace, loss: Any) -> None:
    """Refuse segments shorter than the loss can compare (its largest FFT, for the STFT
    losses), before any song is read; the loss itself would stop the first step."""
    needed = getattr(loss, "min_length", 0)
    samples = int(args.segment_seconds * args.sample_rate)
    if samples < needed:
        raise ConsoleError(
            f"--segment-seconds {args.segment_seconds:g} at {args.sample_rate} Hz gives "
            f"{samples} samples, fewer than the loss {args.loss!r} compares ({needed}); give "
            f"--segment-seconds {math.ceil(100 * needed / args.sample_rate) / 100:g} or more."
        )


def split_fractions(text: str) -> tuple[float, float, float]:
    """``"0.8,0.1,0.1"`` as three fractions; anything else is one clear error."""
    try:
        values = tuple(float(x) for x in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 3 or any(v < 0 for v in values) or sum(values) <= 0:
        raise ConsoleError("--split takes three non-negative fractions: train,validation,test.")
    return values  # type: ignore[return-value]


def seed_everything(seed: int) -> None:
    import random

    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def build_task(args: argparse.Namespace) -> MixingTask | MixerTask:
    """The console (or mixer) to train and its loss, built from the registry."""
    try:
        loss = get_plugins().resolve("loss", args.loss).create(**args.loss_options)
    except TypeError as exc:
        raise ConsoleError(f"--loss-options do not fit the loss {args.loss!r}: {exc}") from exc
    check_segment_length(args, loss)
    if args.mixer:
        return MixerTask(create_mixer(args.mixer, **args.mixer_options), loss, args.sample_rate)
    loaded = None
    if args.init:
        from console.training.warm_start import load_source

        loaded = load_source(args.init)
    architecture = console_architecture(args, loaded[0] if loaded else None)
    # fine-tuning a full chain (--init gain+eq:dsp+...) trains that chain unless told otherwise
    spec = args.spec or (loaded[0].spec if loaded else DEFAULT_SPEC)
    try:
        console = Console.from_spec(spec, **architecture)
    except ConsoleError:
        raise
    except (TypeError, ValueError) as exc:
        raise ConsoleError(
            f"--encoder-options do not fit the encoder {args.encoder!r}: {exc}"
        ) from exc
    if args.init:
        from console.training.warm_start import warm_start

        started = warm_start(console, args.init, loaded)
        if distributed.rank() == 0:
            print(f"console train: {started.summary()}", file=sys.stderr)
    # Weights not given are the recommended ones, where the chain has what they hold.
    recommended = MixingTask.recommended(console, args.sample_rate, loss)
    weights = {name: getattr(recommended, name) if getattr(args, name) is None
               else getattr(args, name) for name in RECOMMENDED_WEIGHTS}
    try:
        return MixingTask(console, loss, args.sample_rate, args.freeze_encoder,
                          args.train_effects, **weights)
    except ValueError as exc:
        raise ConsoleError(f"--pan-weight / --level-weight / --effect-weight: {exc}") from exc


def console_architecture(args: argparse.Namespace, donor: Console | None) -> dict[str, Any]:
    """The console's encoder, width, post-processor and decisions: as given, else the defaults.

    With a donor (``--init``) what is not given is the donor's, so fine-tuning a
    console continues that console (every weight fits) instead of building the
    defaults around the weights that happen to fit. Its encoder options are taken
    only for the same encoder (another one is refused by the warm start anyway).
    """
    if donor is None:
        encoder_options, hidden = args.encoder_options, args.hidden or DEFAULT_HIDDEN
        post_processor = args.post_processor or DEFAULT_POST_PROCESSOR
        decisions = DEFAULT_DECISIONS
    else:
        same_encoder = donor.encoder_name == args.encoder
        encoder_options = (donor.encoder_options if same_encoder and args.encoder_options is None
                           else args.encoder_options)
        hidden = args.hidden or donor.hidden
        post_processor = args.post_processor or donor.post_processor_kind
        decisions = donor.decisions
    return {
        "encoder": args.encoder,
        "encoder_options": encoder_options,
        "hidden": hidden,
        "post_processor": post_processor,
        "decisions": Decisions(level=args.level or decisions.level,
                               pan=args.pan or decisions.pan),
    }


RUN_FOLDER_EPILOG = """\
files in the run folder (--out):
  console.pt      the console at the latest checkpoint (mixer.pt with --mixer): spec,
                  encoder options, decisions and trained weights, no optimiser state;
                  frozen weights the spec rebuilds (shipped emulators) are not copied.
                  Give it to `console mix --checkpoint` or `console evaluate --systems`.
  best.pt         the same at the step with the lowest validation loss: the one to use.
  train_state.pt  what resuming needs: step, trainable weights, AdamW moments, schedule,
                  loss history and random state; mixing does not need it, but without
                  it the run cannot resume, and train refuses to start a new run over
                  its best.pt and console.pt: give a new --out.
  loss.png        training and validation loss curves (with matplotlib installed).
  .NAME.XXXXXXXX.tmp.pt
                  a file being written; one an interrupted run left is removed on resume.
--max-time counts from this invocation: a resumed run plans its remaining steps anew.
"""
