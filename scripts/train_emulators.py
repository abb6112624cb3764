"""Reproduce the emulator weights shipped in ``console_effects/weights``, with model cards.

For each family it runs ``console train-emulator`` (the same code path a user
gets), with a step count fitted to a wall-clock budget on this machine unless
``--steps`` is given, then scores the best checkpoint on the held-out test
files against the reference, bypass and the DSP variant, and writes
``FAMILY.pt`` and ``FAMILY.md`` (the model card) to ``--weights-dir``.

    python scripts/train_emulators.py --minutes 2.5            # on a GPU machine
    python scripts/train_emulators.py --steps 4000 --families eq

The audio is Debian's sonic-pi-samples (or ``--audio FOLDER``).
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import sys
import time
from pathlib import Path

import torch

from console.cli import train_emulator
from console.cli.train_emulator import SAMPLE_RATE, build_trainer
from console.plugins import get_plugins
from console.training.emulator_data import EffectPairDataset, split_clips
from console.training.emulator_metrics import compare_on
from console_effects.eq_sections import SECTION_KINDS
from console_effects.tcn import TCNConfig

REPO = Path(__file__).resolve().parents[1]
TEST_EXAMPLES = 64


def cli_args(family: str, out: Path, steps: int, options: argparse.Namespace) -> argparse.Namespace:
    argv = [
        "train-emulator", family, "--out", str(out), "--steps", str(steps),
        "--batch-size", str(options.batch_size), "--workers", str(options.workers),
        "--val-every", str(max(50, steps // 4)), "--checkpoint-every", str(max(50, steps // 8)),
        "--lr", str(options.lr), "--l1-weight", str(options.l1_weight), "--no-progress",
    ]
    if options.response_steps is not None:
        argv += ["--response-steps", str(options.response_steps)]
    if options.audio:
        argv += ["--audio", str(options.audio)]
    if options.device:
        argv += ["--device", options.device]
    parser = argparse.ArgumentParser()
    train_emulator.add_parser(parser.add_subparsers())
    return parser.parse_args(argv)


def fitted_steps(family: str, options: argparse.Namespace) -> int:
    """Steps that fit ``--minutes`` here, from the time of a short trial run."""
    trial_dir = options.runs / f"{family}-trial"
    shutil.rmtree(trial_dir, ignore_errors=True)
    trainer, _ = build_trainer(cli_args(family, trial_dir, 10_000, options))
    trainer.fit(until=5)  # warm-up: workers, kernels
    start = time.perf_counter()
    trainer.fit(until=25)
    per_step = (time.perf_counter() - start) / 20
    shutil.rmtree(trial_dir, ignore_errors=True)
    budget = options.minutes * 60.0 * 0.88  # leave room for validation and checkpoints
    steps = max(50, int(budget / per_step) // 50 * 50)
    print(f"{family}: {per_step * 1000:.0f} ms/step here -> {steps} steps", file=sys.stderr)
    return steps


def hardware() -> str:
    if torch.cuda.is_available():
        return f"1x {torch.cuda.get_device_name(0)} (CUDA), {torch.get_num_threads()} CPU threads"
    cpu = platform.processor() or platform.machine()
    return f"CPU only ({cpu}), {torch.get_num_threads()} threads"


def held_out_scores(family: str, weights: Path, audio: Path | None, reference_kind: str) -> dict:
    plugins = get_plugins()
    emulator = plugins.resolve("effect", f"{family}:tcn").create(str(weights))
    dsp = plugins.resolve("effect", emulator.dsp_reference).create()
    clips, _ = split_clips(audio, SAMPLE_RATE)
    data = EffectPairDataset(
        clips["test"], emulator.params, type(emulator).reference(reference_kind),
        int(type(emulator).training_seconds * SAMPLE_RATE), TEST_EXAMPLES, seed=12345,
    )
    scores = compare_on(data, {"emulator": emulator, "bypass": None, "dsp": dsp}, SAMPLE_RATE)
    return {name: {"mrstft": f.mrstft, "snr_db": f.snr_db} for name, f in scores.items()}


def model_card(family: str, info: dict, scores: dict, steps: int, seconds: float,
               params: int, options: argparse.Namespace) -> str:
    emulator_class = get_plugins().resolve("effect", f"{family}:tcn").factory
    cfg = info["config"]
    rf = emulator_class.build_network(TCNConfig(**cfg)).receptive_field
    network = (
        f"{cfg['channels']} channels, kernel {cfg['kernel_size']}, dilations {cfg['dilations']}"
    )
    if cfg.get("linear"):  # the EQ: linear TCN sections in series
        kinds = list(dict.fromkeys(SECTION_KINDS))
        network = (f"one linear TCN (no biases, FiLM scale only, no activation) per kind of "
                   f"section ({', '.join(kinds)}; the three bells share one), {network} each, "
                   f"in series as {' -> '.join(SECTION_KINDS)}")
    stages = f"{steps} steps on audio" if steps else "no audio steps"
    if info.get("response_steps"):
        fits = ", ".join(
            f"{kind} {db:.2f} dB (bypass {info['response_bypass_db'][kind]:.2f} dB)"
            for kind, db in info["response_fit_db"].items()
        )
        stages = (f"{info['response_steps']} steps fitting each section's frequency response to "
                  f"the reference's impulse responses (`console.training.response_fit`; mean "
                  f"absolute error, 20 Hz-20 kHz, held-out settings: {fits}), then {stages}")
    rows = "\n".join(
        f"| {name} | {s['mrstft']:.3f} | {s['snr_db']:.1f} |" for name, s in scores.items()
    )
    reference = info["reference"]
    if reference == "pedalboard":
        import pedalboard

        reference = f"pedalboard {pedalboard.__version__}"
    response = f"--response-steps {info['response_steps']} " if info.get("response_steps") else ""
    return f"""# Model card: `{family}:tcn`

What: FiLM-conditioned causal TCNs that emulate the {family} effect; the
default `{family}` in spec strings. Settings are those of `{emulator_class.dsp_reference}`
(see the effect's docstring for any narrowed range).

- Reference it was trained against: **{reference}** (`--reference {options.reference}`).
- Network: {network}; {params} weights; receptive field {rf} samples at
  {emulator_class.internal_rate} Hz ({rf / emulator_class.internal_rate:.2f} s).
- Data: {info['audio']}; files split train/validation/test by a hash of their
  name (`console.training.emulator_data.split_of`). Each example: {info['segment_samples']}
  samples at {SAMPLE_RATE} Hz built from 1-3 clips at random times and levels, peak
  level uniform in -36..-1 dBFS; settings uniform in the ParamSpecs' normalised ranges.
- Training: {stages}; batch {options.batch_size}, AdamW lr {options.lr:g} with warm-up
  and cosine decay, loss {options.l1_weight:g} x L1 + multi-resolution STFT (auraloss),
  best validation checkpoint.
- Hardware and time: {hardware()}; {seconds / 60:.1f} min of training.
- Held-out fidelity ({TEST_EXAMPLES} examples from the test files, processed by the
  reference at random settings; MR-STFT error is auraloss' default
  `MultiResolutionSTFTLoss`, lower is better; SNR against the reference, higher is better):

| output | MR-STFT error | SNR (dB) |
| --- | --- | --- |
{rows}

`bypass` is the unprocessed input; `dsp` is `{emulator_class.dsp_reference}` at the same settings.

Reproduce: `python scripts/train_emulators.py --families {family} --steps {steps}
{response}--batch-size {options.batch_size} --lr {options.lr:g} --l1-weight {options.l1_weight:g}
--workers {options.workers}` (a GPU is used when there is one).
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", nargs="+", default=["eq", "comp", "reverb"])
    parser.add_argument("--minutes", type=float, default=10.0, help="training budget per family")
    parser.add_argument("--steps", type=int, default=None, help="fixed steps (skips fitting)")
    parser.add_argument(
        "--response-steps", type=int, default=None,
        help="response-fitting steps of a linear emulator (eq) before the audio steps",
    )
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--l1-weight", type=float, default=1.0)
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--audio", type=Path, default=None)
    parser.add_argument("--reference", default="auto")
    parser.add_argument("--device", default=None)
    parser.add_argument("--runs", type=Path, default=Path("runs/emulators"))
    parser.add_argument("--weights-dir", type=Path, default=REPO / "src/console_effects/weights")
    options = parser.parse_args()
    options.weights_dir.mkdir(parents=True, exist_ok=True)
    summary = {}
    for family in options.families:
        steps = options.steps if options.steps is not None else fitted_steps(family, options)
        run_dir = options.runs / family
        args = cli_args(family, run_dir, steps, options)
        args.reference = options.reference
        reused = (run_dir / train_emulator.IDENTIFIED).is_file()  # a response fit made before
        start = time.perf_counter()
        trainer, history = train_emulator.train(args)
        seconds = time.perf_counter() - start
        if reused:  # count the earlier fit's time in the total
            seconds += trainer.task.describe().get("response_seconds", 0.0)
        best = run_dir / "best.pt"
        scores = held_out_scores(family, best, options.audio, options.reference)
        data = torch.load(best, map_location="cpu", weights_only=True)
        data["info"].update(
            steps=steps, batch_size=options.batch_size, train_seconds=round(seconds, 1),
            hardware=hardware(), held_out=scores,
            best_val=history.best_val if history else None,
        )
        torch.save(data, options.weights_dir / f"{family}.pt")
        n_weights = sum(v.numel() for v in data["state_dict"].values())
        card = model_card(family, data["info"], scores, steps, seconds, n_weights, options)
        (options.weights_dir / f"{family}.md").write_text(card, encoding="utf-8")
        summary[family] = {"steps": steps, "seconds": seconds, "held_out": scores}
        print(json.dumps({family: summary[family]}, indent=1), flush=True)
    summary_file = options.weights_dir / "summary.json"  # families not retrained keep theirs
    earlier = json.loads(summary_file.read_text()) if summary_file.is_file() else {}
    summary_file.write_text(json.dumps({**earlier, **summary}, indent=1))


if __name__ == "__main__":
    main()
