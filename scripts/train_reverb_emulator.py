"""Train the grey-box reverb emulator (``reverb:greybox``) against pedalboard's Freeverb.

Data come from the emulator data pipeline (:mod:`console.training.emulator_data`):
clips of Debian's sonic-pi-samples (or ``--audio FOLDER``), split into
train/validation/test by a hash of the file name; each example is a 4 s segment
of one to three clips processed by the reference (``--reference``, default
``auto``: pedalboard's ``Reverb`` through
:func:`console_effects.references.freeverb_settings`) at random settings.

Training sees the wet signal only (``mix`` set to 1 for the reference and the
emulator alike: the mix is exact in both, so the dry part would only dilute the
loss). The run keeps the checkpoint with the lowest validation error (validation
files only, at random mixes, as the test); the test files are scored once, at
the end, with the emulator, bypass and ``reverb:dsp`` at the same settings (the
use is appended to ``benchmarks/results/emulator-test-uses.log``). CPU cost is
measured on one thread (CPU time): forward, and forward+backward with gradients
to the settings and the audio (``console.training.emulator_report``, which
``scripts/train_emulators.py`` shares). It writes ``reverb-greybox.pt`` and its
card ``reverb-greybox.md`` to ``--weights-dir``, never over existing files
unless given ``--force`` (the default folder holds the shipped weights).

    python scripts/train_reverb_emulator.py --minutes 12 --force   # replaces the shipped
    python scripts/train_reverb_emulator.py --steps 20 --weights-dir /tmp/w   # a quick try

Everything runs on one CPU thread (``torch.set_num_threads(1)``).
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import statistics
import sys
import time
from pathlib import Path

import auraloss
import numpy as np
import torch

from console.atomic import atomic_write
from console.errors import ConsoleError
from console.training.emulator_data import EffectPairDataset, collate_pairs, split_clips
from console.training.emulator_metrics import compare_on
from console.training.emulator_report import (
    check_writable,
    cost_sentence,
    cpu_cost,
    fidelity_table,
    hardware,
    log_test_use,
    write_weights_and_card,
)
from console.training.emulator_task import envelope_error
from console_effects.references import freeverb_rt60, freeverb_settings
from console_effects.reverb import Reverb
from console_effects.reverb_emulator import (
    EMULATOR_SAMPLE_RATE,
    FreeverbConfig,
    ReverbEmulator,
    band_rt60,
)

REPO = Path(__file__).resolve().parents[1]
SAMPLE_RATE = EMULATOR_SAMPLE_RATE
#: Held-out examples, and the seeds of the validation and test sets (fixed: the same each run).
VALIDATION_SEED, TEST_SEED = 777, 12345
TEST_LOG = REPO / "benchmarks" / "results" / "emulator-test-uses.log"
#: Settings at which the card compares the emulator's tail with the reference's.
RT60_CHECKS = ((0.3, 1.0), (0.8, 1.0), (1.5, 0.5), (3.0, 1.0), (3.0, 0.0), (6.0, 0.7))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=12.0,
                        help="wall-clock budget of the training loop (default 12)")
    parser.add_argument("--steps", type=int, default=100_000,
                        help="stop after this many steps, if the budget lasts (default: budget)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--loss", choices=("waveform", "mrstft", "both"), default="waveform",
                        help="training loss: the wet signal's squared error relative to its "
                             "energy, per example (waveform; the default), auraloss' "
                             "multi-resolution STFT error, or their sum")
    parser.add_argument("--envelope-weight", type=float, default=0.1,
                        help="weight of the log-envelope term (the tail's decay) beside the "
                             "waveform loss (default 0.1)")
    parser.add_argument("--channels", type=int, default=FreeverbConfig().channels,
                        help="hidden units of the settings map")
    parser.add_argument("--val-every", type=int, default=150)
    parser.add_argument("--val-examples", type=int, default=24)
    parser.add_argument("--test-examples", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--reference", choices=("auto", "pedalboard", "dsp"), default="auto")
    parser.add_argument("--audio", type=Path, default=None,
                        help="folder of recordings (default: sonic-pi-samples)")
    parser.add_argument("--out", type=Path, default=REPO / "runs" / "reverb-emulator",
                        help="run folder: best.pt and a log (default runs/reverb-emulator)")
    parser.add_argument("--weights-dir", type=Path,
                        default=REPO / "src" / "console_effects" / "weights",
                        help="where reverb-greybox.pt and .md go (default: the shipped weights)")
    parser.add_argument("--force", action="store_true",
                        help="replace the weights and card there (the shipped ones, by default)")
    parser.add_argument("--test-log", type=Path, default=TEST_LOG,
                        help="where the scoring of the test files is logged")
    return parser.parse_args(argv)


def with_full_mix(reference, mix_index: int):
    """The reference at ``mix = 1`` (the wet signal) whatever the example's mix."""

    def process(x: np.ndarray, params: np.ndarray) -> np.ndarray:
        params = params.copy()
        params[mix_index] = 1.0
        return reference(x, params)

    return process


def relative_error(estimate: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean over examples of the squared error over the target's energy (both channels)."""
    error = (estimate - target).square().sum(dim=(1, 2))
    return (error / target.square().sum(dim=(1, 2)).clamp_min(1e-12)).mean()


def validation_error(emulator: ReverbEmulator, batches: list[dict]) -> float:
    """Mean MR-STFT error of the full output (random mixes) on fixed validation batches."""
    stft = auraloss.freq.MultiResolutionSTFTLoss()
    with torch.no_grad():
        return statistics.fmean(
            float(stft(emulator(b["x"], b["params"], SAMPLE_RATE), b["y"])) for b in batches
        )


def rt60_table(emulator: ReverbEmulator, reference_kind: str) -> list[dict[str, float]]:
    """Mid-band RT60 of the emulator's and the reference's responses at a few settings."""
    from console_effects.references import freeverb_impulse_response

    rows = []
    for decay, brightness in RT60_CHECKS:
        params = torch.tensor([[decay, 0.0, brightness, 1.0, 1.0]])
        with torch.no_grad():
            ours = emulator.impulse_response(params, SAMPLE_RATE)[0].numpy()
        row = {"decay_s": decay, "brightness": brightness,
               "emulator_rt60": band_rt60(ours, SAMPLE_RATE)}
        if reference_kind == "pedalboard":
            settings = freeverb_settings(decay, brightness, 1.0)
            theirs = freeverb_impulse_response(**settings, sample_rate=SAMPLE_RATE)
            row["reference_rt60"] = band_rt60(theirs, SAMPLE_RATE)
            row["room_size"] = settings["room_size"]
        rows.append(row)
    return rows


def train(options: argparse.Namespace) -> dict:
    torch.set_num_threads(1)
    torch.manual_seed(options.seed)
    reference_kind = ReverbEmulator.reference_name(options.reference)
    reference = ReverbEmulator.reference(options.reference)
    specs = ReverbEmulator.params
    mix_index = [s.name for s in specs].index("mix")
    clips, audio_source = split_clips(options.audio, SAMPLE_RATE)
    segment = int(ReverbEmulator.training_seconds * SAMPLE_RATE)
    train_data = EffectPairDataset(clips["train"], specs, with_full_mix(reference, mix_index),
                                   segment, options.batch_size * options.steps, options.seed)
    validation = EffectPairDataset(clips["validation"], specs, reference, segment,
                                   options.val_examples, VALIDATION_SEED)
    loader = torch.utils.data.DataLoader(validation, batch_size=8, collate_fn=collate_pairs)
    start = time.perf_counter()
    val_batches = list(loader)
    print(f"validation set: {time.perf_counter() - start:.0f} s", file=sys.stderr)

    emulator = ReverbEmulator(config=FreeverbConfig(channels=options.channels))
    optimiser = torch.optim.Adam(emulator.network.parameters(), lr=options.lr)
    stft = auraloss.freq.MultiResolutionSTFTLoss()
    options.out.mkdir(parents=True, exist_ok=True)
    log = []
    best = {"step": 0, "error": validation_error(emulator, val_batches),
            "state": copy.deepcopy(emulator.network.state_dict())}
    print(f"step 0: validation MR-STFT {best['error']:.4f}", file=sys.stderr)
    log.append({"step": 0, "validation": best["error"]})
    budget = options.minutes * 60.0
    train_start = time.perf_counter()
    cpu_start = time.process_time()
    step = 0
    losses: list[float] = []
    index = 0
    while step < options.steps and time.perf_counter() - train_start < budget:
        items = [train_data[index + i] for i in range(options.batch_size)]
        index += options.batch_size
        batch = collate_pairs(items)
        params = batch["params"].clone()
        params[:, mix_index] = 1.0
        # Cosine decay over the time budget (or the steps, if they end first).
        progress = max((time.perf_counter() - train_start) / budget, step / options.steps)
        for group in optimiser.param_groups:
            group["lr"] = options.lr * 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))
        out = emulator(batch["x"], params, SAMPLE_RATE)
        loss = out.new_zeros(())
        if options.loss in ("waveform", "both"):
            loss = loss + relative_error(out, batch["y"])
            if options.envelope_weight:
                loss = loss + options.envelope_weight * envelope_error(out, batch["y"])
        if options.loss in ("mrstft", "both"):
            loss = loss + stft(out, batch["y"])
        optimiser.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(emulator.network.parameters(), 1.0)
        optimiser.step()
        losses.append(float(loss.detach()))
        step += 1
        if step % options.val_every == 0:
            error = validation_error(emulator, val_batches)
            elapsed = time.perf_counter() - train_start
            print(f"step {step}: train {statistics.fmean(losses):.4f}, validation "
                  f"{error:.4f} ({elapsed / 60:.1f} min)", file=sys.stderr)
            log.append({"step": step, "train": statistics.fmean(losses), "validation": error,
                        "minutes": elapsed / 60})
            losses = []
            if error < best["error"]:
                best = {"step": step, "error": error,
                        "state": copy.deepcopy(emulator.network.state_dict())}
                emulator.save(options.out / "best.pt", {"step": step, "validation": error})
    train_seconds = time.perf_counter() - train_start
    train_cpu = time.process_time() - cpu_start
    error = validation_error(emulator, val_batches)
    if error < best["error"]:
        best = {"step": step, "error": error,
                "state": copy.deepcopy(emulator.network.state_dict())}
    log.append({"step": step, "validation": error, "minutes": train_seconds / 60})
    emulator.network.load_state_dict(best["state"])
    emulator.network.requires_grad_(False)

    test = EffectPairDataset(clips["test"], specs, reference, segment, options.test_examples,
                             TEST_SEED)
    scores = compare_on(test, {"emulator": emulator, "bypass": None, "reverb:dsp": Reverb()},
                        SAMPLE_RATE)
    log_test_use(options.test_log, f"scripts/train_reverb_emulator.py: the trained reverb:greybox "
                 f"(best validation step {best['step']}) -> {options.weights_dir}")
    info = {
        "reference": reference_kind,
        "reference_option": options.reference,
        "audio": audio_source,
        "files": {split: len(c) for split, c in clips.items()},
        "segment_samples": segment,
        "steps": step,
        "best_step": best["step"],
        "validation": best["error"],
        "train_minutes": train_seconds / 60,
        "train_cpu_minutes": train_cpu / 60,
        "batch_size": options.batch_size,
        "lr": options.lr,
        "loss": options.loss,
        "envelope_weight": options.envelope_weight,
        "config": emulator.network.config.to_dict(),
        "weights": sum(p.numel() for p in emulator.network.parameters()),
        "test": {name: {"mrstft": f.mrstft, "snr_db": f.snr_db} for name, f in scores.items()},
        "log": log,
    }
    if reference_kind == "pedalboard":
        import pedalboard

        info["pedalboard"] = pedalboard.__version__
    info["cpu_cost"] = cpu_cost(emulator, rounds=15, long=(8, 10.0))
    info["rt60"] = rt60_table(emulator, reference_kind)
    return {"emulator": emulator, "info": info}


LOSS_WORDS = {
    "waveform": "the wet signal's squared error over its energy, per example (the structure "
                "can match the reference sample for sample, so the waveform is a fair target, "
                "and it costs far less than an STFT loss on one thread), plus {envelope} x the "
                "mean absolute difference of log frame energies (1024-sample frames, broadband "
                "and of the first difference, down to 60 dB below the mean level), so the "
                "tail's decay counts as much as its loud start",
    "mrstft": "multi-resolution STFT (auraloss' default)",
    "both": "the wet signal's squared error over its energy plus multi-resolution STFT "
            "(auraloss' default)",
}


def model_card(info: dict, options: argparse.Namespace) -> str:
    test = info["test"]
    rows = fidelity_table(test)
    ratio = test["emulator"]["mrstft"] / test["bypass"]["mrstft"]
    cost = info["cpu_cost"]
    if info["reference"] == "pedalboard":
        reference = (
            f"**pedalboard {info['pedalboard']} `Reverb`** (JUCE's Freeverb), through the fixed "
            f"mapping of `console_effects.references.freeverb_settings`: `decay_s` -> the "
            f"`room_size` whose measured mid-frequency RT60 (T30, 500 Hz-1 kHz; table "
            f"`FREEVERB_RT60`, from `scripts/measure_freeverb.py`) is `decay_s` at that damping "
            f"(Freeverb rings {freeverb_rt60(0.0, 1.0):.2f}-{freeverb_rt60(0.0, 0.0):.2f} s at "
            f"room size 0, so shorter decays are held there); `brightness` -> `damping = 1 - "
            f"brightness`; `width` -> `width`; `predelay_ms` a pure delay of the wet signal "
            f"(rounded to a sample); wet only (`dry_level` 0), scaled so its impulse response "
            f"has unit energy per channel (as `reverb:dsp`'s), mixed with the dry input "
            f"exactly: `(1 - mix) x + mix wet`"
        )
        rt_rows = "\n".join(
            f"| {r['decay_s']:g} | {r['brightness']:g} | {r['room_size']:.3f} | "
            f"{r['reference_rt60']:.2f} | {r['emulator_rt60']:.2f} |" for r in info["rt60"]
        )
        rt_table = (
            "Tails (mid-band RT60 in s, T30 of the response to an impulse, width 1):\n\n"
            "| decay_s | brightness | room_size | reference | emulator |\n"
            "| --- | --- | --- | --- | --- |\n" + rt_rows + "\n"
        )
    else:
        reference = f"**{info['reference']}** (`--reference {info['reference_option']}`)"
        rt_table = ""
    cfg = info["config"]
    command = (f"python scripts/train_reverb_emulator.py --minutes {options.minutes:g} "
               f"--batch-size {options.batch_size} --lr {options.lr:g} --seed {options.seed}")
    if options.steps < 100_000:
        command += f" --steps {options.steps}"
    if options.loss != "waveform":
        command += f" --loss {options.loss}"
    if options.envelope_weight != 0.1:
        command += f" --envelope-weight {options.envelope_weight:g}"
    return f"""# Model card: `reverb:greybox`

What: the grey-box reverb emulator, the default `reverb` in spec strings, beyond the
paper (whose emulators are TCNs: `reverb:tcn`). Until the grey-boxes took their own
names it was registered as `reverb:tcn`. Settings are those of `reverb:dsp` (`decay_s`
0.1-8 s, though it rings at least about 0.5 s, `predelay_ms`, `brightness`, `width`,
`mix`).

- Reference it was trained against: {reference}.
- Network: grey-box (`console_effects.reverb_emulator`): Freeverb's topology
  (`console_effects.functional.freeverb`: per channel eight feedback combs with a
  one-pole damping filter in the loop, delays 1116-1617 samples at 44.1 kHz and 23 more
  on the right, then four Schroeder sections of feedback 0.5; a compiled loop with an
  exact adjoint) whose per-comb feedback and damping, stereo width matrix and wet level a
  settings map sets from `decay_s`, `brightness` and `width` (a linear path plus an MLP
  of {cfg['layers']} tanh layers of {cfg['channels']}; {info['weights']} weights). Before
  training it takes the knobs at face value (every comb rings `decay_s`); pre-delay, the
  mono sum of a stereo input and the dry/wet mix are exact. Recursive: it hears the whole
  past, whatever the decay.
- Data: {info['audio']}; files split train/validation/test by a hash of their name
  (`console.training.emulator_data.split_of`). Each example: {info['segment_samples']}
  samples at 44100 Hz built from 1-3 clips at random times and levels, peak level uniform
  in -36..-1 dBFS; settings uniform in the ParamSpecs' normalised ranges. Training targets
  are the wet signal (`mix` 1 for the reference and the emulator).
- Training: {info['steps']} steps, batch {info['batch_size']}, Adam lr {info['lr']:g} with
  cosine decay over the time budget, loss {LOSS_WORDS[info['loss']].format(
      envelope=info['envelope_weight'])}; kept the step with the
  lowest validation error ({options.val_examples} examples from the validation files, random
  mixes): step {info['best_step']}, MR-STFT {info['validation']:.4f}.
- Hardware and time: {info['hardware']}; {info['train_minutes']:.1f} min of training (wall),
  {info['train_cpu_minutes']:.1f} CPU-min, data generation (the reference) included.
- {cost_sentence(cost)} Forward over 8 tracks x 10 s {cost['forward_long']:.4f}. The cost
  does not depend on the decay time.
- Held-out fidelity ({options.test_examples} examples from the test files, never seen in
  training or selection, processed by the reference at random settings, mix included;
  MR-STFT error is auraloss' default `MultiResolutionSTFTLoss`, lower is better; SNR
  against the reference, higher is better):

{rows}

`bypass` is the unprocessed input; `reverb:dsp` is this project's DSP reverb (band-wise
decaying noise) at the same settings. The emulator's MR-STFT error is {ratio:.2f} x
bypass's.

{rt_table}
Reproduce: `{command}` (about {options.minutes:g} minutes on one thread; the held-out
scoring and the timing take a few more).
"""


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    weights = options.weights_dir / f"{ReverbEmulator.weights_stem()}.pt"
    try:  # before any training: never over the shipped weights unless asked
        check_writable([weights, weights.with_suffix(".md")], options.force)
    except ConsoleError as exc:
        print(f"train_reverb_emulator: {exc}", file=sys.stderr)
        return 2
    result = train(options)
    emulator, info = result["emulator"], result["info"]
    info["hardware"] = hardware()
    compact = {k: v for k, v in info.items() if k != "log"}
    print(json.dumps(compact, indent=2), file=sys.stderr)
    options.weights_dir.mkdir(parents=True, exist_ok=True)
    write_weights_and_card(lambda path: emulator.save(path, compact), weights,
                           lambda: model_card(info, options))
    atomic_write(options.out / "log.json",
                 lambda tmp: Path(tmp).write_text(json.dumps(info, indent=2), encoding="utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
