"""``console train-emulator``: train a neural emulator of an effect, built-in or a plugin's.

Any registered emulator can be trained by name (``eq:tcn``, ``comp:greybox``,
...) or by family (its default): any registered effect class that offers what
this command calls: ``default_config()`` (the untrained network's shape, with a
``channels`` field), a constructor taking ``config=``, ``reference(kind)`` and
``reference_name(kind)`` (what it learns from), ``training_seconds``,
``receptive_field_s`` (``inf`` for a recursive network) and ``save(path,
info=)``. The built-in TCNs (``eq:tcn``, ``comp:tcn``, ``reverb:tcn``) and
grey-boxes (``eq:greybox``, ``comp:greybox``, ``reverb:greybox``) do; so may a
third party's. An emulator's ``training_settings`` are held while it trains
(the reverbs learn their wet signal: ``mix`` 1).
"""

from __future__ import annotations

import argparse
import filecmp
import math
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from console.cli.checks import check_device, check_seconds, parse_seed
from console.cli.train import MAX_SEGMENT_SECONDS, check_learning_rate, parse_duration
from console.errors import ConsoleError
from console.plugins import Component, Plugins, get_plugins
from console.training import TrainConfig, Trainer
from console.training.emulator_data import EffectPairDataset, collate_pairs, split_clips
from console.training.emulator_task import EmulatorTask
from console.training.loop import History, check_run_folder

#: What a registered effect class must offer to be trained here.
EMULATOR_METHODS = ("default_config", "reference", "reference_name")
SAMPLE_RATE = 44100
#: Response-fitting steps of a linear emulator (the EQ) when --response-steps is not given.
DEFAULT_RESPONSE_STEPS = 3000
#: Where the response fit of a linear emulator is kept, so audio training can resume after it.
IDENTIFIED = "identified.pt"


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "train-emulator",
        help="train a neural emulator of an effect from a reference",
        description="Train a neural emulator by name (the paper's conditioned TCNs eq:tcn, "
        "comp:tcn, reverb:tcn; the grey-boxes eq:greybox, comp:greybox, reverb:greybox; or a "
        "plugin's): real audio is processed at random settings by "
        "a reference (pedalboard where it maps faithfully and is installed, else the DSP "
        "effect) and the network learns to match it (L1 + multi-resolution STFT). Re-running "
        "with the same --out resumes. Use the result as EMULATOR@OUT (or OUT/best.pt) in a "
        "spec, e.g. eq:tcn@OUT.",
    )
    parser.add_argument(
        "emulator", metavar="EMULATOR",
        help="the emulator to train, by name (eq:tcn, comp:greybox, ...) or family (eq, comp, "
        "reverb: the default) or one a plugin registers; an unknown name lists the installed "
        "ones",
    )
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
    parser.add_argument("--steps", type=int, default=5000,
                        help="steps of training on audio (at most; see --max-time)")
    parser.add_argument(
        "--max-time", type=parse_duration, default=None, metavar="DURATION",
        help="wall-clock budget of the audio steps (20m, 1h30m): the steps that fit, the "
        "learning rate's decay planned to end with them (capped by --steps)",
    )
    parser.add_argument(
        "--response-steps", type=int, default=None,
        help="for a linear emulator (eq): steps of fitting its sections to the reference's "
        "frequency responses before the audio steps (default 3000; 0 skips; others: 0)",
    )
    parser.add_argument(
        "--response-settings", type=int, default=4000,
        help="random settings per kind of section whose responses are fitted (default 4000)",
    )
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--lr", type=float, default=1e-3,
                        help="AdamW learning rate, above 0 and at most 1 (default 1e-3)")
    parser.add_argument("--warmup-steps", type=int, default=100)
    parser.add_argument("--val-every", type=int, default=250)
    parser.add_argument("--checkpoint-every", type=int, default=100)
    parser.add_argument("--val-examples", type=int, default=64)
    parser.add_argument(
        "--segment-seconds", type=float, default=None,
        help="length of each example (default: 1.5 s, 4 s for the reverb)",
    )
    parser.add_argument("--l1-weight", type=float, default=1.0, help="weight of the L1 term")
    parser.add_argument(
        "--envelope-weight", type=float, default=0.0,
        help="weight of a term on the log envelope of every 1024-sample frame, the tail's "
        "decay included (default 0: L1 + multi-resolution STFT alone)",
    )
    parser.add_argument(
        "--channels", type=int, default=None,
        help="network width: a TCN's channels, a grey-box settings map's hidden units "
        "(default: the emulator's own)",
    )
    parser.add_argument("--workers", type=int, default=0, help="DataLoader workers")
    parser.add_argument("--seed", type=parse_seed, default=0)
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1 (default: auto)")
    parser.add_argument("--no-progress", action="store_true")
    parser.set_defaults(func=run)


def is_trainable(component: Component) -> bool:
    """Whether a registered effect is an emulator this command can train."""
    factory = component.factory
    return isinstance(factory, type) and all(
        callable(getattr(factory, method, None)) for method in EMULATOR_METHODS
    )


def trainable_emulators(plugins: Plugins | None = None) -> dict[str, Component]:
    """The registered effects this command can train, by name."""
    registry = (plugins or get_plugins()).registry("effect")
    return {name: c for name, c in sorted(registry.items()) if is_trainable(c)}


def resolve_emulator(name: str, plugins: Plugins | None = None) -> Component:
    """A trainable emulator by name (``eq:tcn``) or family (``eq``); unknown names list them."""
    emulators = trainable_emulators(plugins)
    if name in emulators:
        return emulators[name]
    family = [c for c in emulators.values() if c.family == name]
    chosen = [c for c in family if c.default] or (family if len(family) == 1 else [])
    if chosen:
        return chosen[0]
    known = ", ".join(emulators) or "none"
    raise ConsoleError(
        f"No trainable emulator named {name!r} is installed; give one of: {known} "
        f"(`console plugins` lists every effect)."
    )


def build_trainer(args: argparse.Namespace) -> tuple[Trainer, str]:
    """The trainer for ``args`` and a line describing the run."""
    import attrs

    component = resolve_emulator(args.emulator)
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
    fixed = dict(getattr(emulator_class, "training_settings", {}) or {})
    train = EffectPairDataset(clips["train"], specs, reference, segment, examples, args.seed,
                              fixed=fixed)
    val = (
        EffectPairDataset(clips["validation"], specs, reference, segment, args.val_examples,
                          args.seed + 1, fixed=fixed)
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
        "fixed_settings": fixed,
    }
    task = EmulatorTask(emulator, SAMPLE_RATE, describe, l1_weight=args.l1_weight,
                        envelope_weight=getattr(args, "envelope_weight", 0.0))
    train_config = TrainConfig(
        steps=max(1, args.steps), batch_size=args.batch_size, lr=args.lr, weight_decay=0.0,
        warmup_steps=args.warmup_steps, val_every=args.val_every,
        checkpoint_every=args.checkpoint_every, num_workers=args.workers, seed=args.seed,
    )
    trainer = Trainer(
        task, train, collate_pairs, train_config, args.out, val_data=val, device=args.device,
        progress=not args.no_progress,
    )
    reach = emulator.receptive_field_s
    memory = ("recursive (hears the whole past)" if math.isinf(reach)
              else f"receptive field {reach:.2f} s")
    line = (
        f"{component.name}: {sum(p.numel() for p in emulator.parameters())} weights, {memory}; "
        f"reference {reference_name}; audio from {source}; on {trainer.device}"
    )
    return trainer, line


def response_steps(args: argparse.Namespace, emulator: Any) -> int:
    """``--response-steps``, checked against the emulator: only linear ones have responses."""
    from console.training.response_fit import fits_responses

    linear = fits_responses(emulator)
    if args.response_steps is None:
        return DEFAULT_RESPONSE_STEPS if linear else 0
    if args.response_steps < 0:
        raise ConsoleError("--response-steps must be 0 or more.")
    if args.response_steps and not linear:
        raise ConsoleError(
            f"--response-steps: the {emulator.name} emulator is not linear, so it has no "
            f"frequency response to fit; train it on audio (--steps) alone."
        )
    return args.response_steps


def identify(trainer: Trainer, args: argparse.Namespace, steps: int) -> None:
    """Stage one for a linear emulator: fit its sections, or reload a fit made before."""
    from console.training.response_fit import fit_sections

    emulator = trainer.task.model
    saved = args.out / IDENTIFIED
    if saved.is_file():
        fitted = type(emulator)(saved)
        emulator.network.load_state_dict(fitted.network.state_dict())
        keys = ("response_steps", "response_seconds", "response_fit_db", "response_bypass_db")
        info = fitted.checkpoint_info
        trainer.task.note(**{k: info[k] for k in keys if k in info})
        print(f"console train-emulator: reusing the response fit in {saved}", file=sys.stderr)
        return
    reference = type(emulator).reference(args.reference)
    start = time.perf_counter()
    fits = fit_sections(
        emulator, reference, steps, SAMPLE_RATE, settings=args.response_settings,
        held_out=max(16, args.response_settings // 16), seed=args.seed,
        progress=not args.no_progress,
    )
    for fit in fits:
        print(
            f"console train-emulator: {fit.kind} response within {fit.db_error:.2f} dB on "
            f"held-out settings (bypass {fit.bypass_db_error:.2f} dB)",
            file=sys.stderr,
        )
    trainer.task.note(
        response_steps=steps,
        response_seconds=round(time.perf_counter() - start, 1),
        response_fit_db={fit.kind: round(fit.db_error, 3) for fit in fits},
        response_bypass_db={fit.kind: round(fit.bypass_db_error, 3) for fit in fits},
    )
    args.out.mkdir(parents=True, exist_ok=True)
    emulator.save(saved, info=trainer.task.describe())


def train(args: argparse.Namespace) -> tuple[Trainer, History | None]:
    """Both stages: the response fit of a linear emulator, then the audio steps.

    Returns the trainer and the audio history (``None`` with ``--steps 0``,
    where the response fit is the result and is copied to ``best.pt``).
    """
    check_arguments(args)
    check_run_folder(args.out, run_artifacts(args.out))  # before any work
    trainer, line = build_trainer(args)
    print(f"console train-emulator: {line}", file=sys.stderr)
    fit_steps = response_steps(args, trainer.task.model)
    if args.steps == 0 and fit_steps == 0:
        raise ConsoleError("Nothing to train: give --steps (audio) or --response-steps.")
    if trainer.resume():
        print(f"console train-emulator: resumed at step {trainer.step}", file=sys.stderr)
    elif fit_steps:
        identify(trainer, args, fit_steps)
    if args.steps == 0:
        shutil.copyfile(args.out / IDENTIFIED, args.out / "best.pt")
        return trainer, None
    return trainer, trainer.fit(max_seconds=getattr(args, "max_time", None))


def check_arguments(args: argparse.Namespace) -> None:
    """Refuse nonsense before any file is read (each once ended in a traceback, or in a
    network of no width that trained without a word)."""
    if args.steps < 0 or args.batch_size <= 0:
        raise ConsoleError("--steps must be 0 or more and --batch-size positive.")
    check_learning_rate(args.lr)
    check_seconds(args.segment_seconds, "--segment-seconds", 0, MAX_SEGMENT_SECONDS)
    for name, least in (("response_settings", 1), ("channels", 1), ("val_every", 1),
                        ("checkpoint_every", 1), ("val_examples", 0), ("warmup_steps", 0),
                        ("workers", 0)):
        value = getattr(args, name)
        if value is not None and value < least:
            raise ConsoleError(f"--{name.replace('_', '-')} must be {least} or more, got "
                               f"{value}.")
    if not (math.isfinite(args.l1_weight) and args.l1_weight >= 0):
        raise ConsoleError(f"--l1-weight must be a number, 0 or more, got {args.l1_weight}.")
    check_device(args.device)


def run_artifacts(out: Path) -> tuple[str, ...]:
    """The weights a new run in ``out`` would write over: ``best.pt``, unless it is a copy
    of the response fit (``--steps 0``), which a new run resumes from and copies again."""
    best, fit = out / "best.pt", out / IDENTIFIED
    copy = best.is_file() and fit.is_file() and filecmp.cmp(best, fit, shallow=False)
    return ("emulator.pt",) if copy else ("best.pt", "emulator.pt")


def run(args: argparse.Namespace) -> int:
    trainer, history = train(args)
    best = f", best validation loss {history.best_val:.4f}" if history and history.val else ""
    at = f" at step {trainer.step}" if history else ""
    name = trainer.task.model.name
    print(f"console train-emulator: finished{at}{best}; use it as {name}@{args.out}")
    return 0
