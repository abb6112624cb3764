"""Reproduce the emulator weights shipped in ``console_effects/weights``, with model cards.

For each family it runs ``console train-emulator`` (the same code path a user
gets), with a step count fitted to a wall-clock budget on this machine unless
``--steps`` is given, then scores the best checkpoint on the held-out test
files against the reference, bypass and the DSP variant, times it (CPU
seconds per track-second on one thread, forward and forward+backward), and
writes ``FAMILY.pt`` and ``FAMILY.md`` (the model card) to ``--weights-dir``.

    python scripts/train_emulators.py --minutes 2.5            # on a GPU machine
    python scripts/train_emulators.py --steps 4000 --families eq

The audio is Debian's sonic-pi-samples (or ``--audio FOLDER``).
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import sys
import time
from pathlib import Path

import torch

from console.cli import train_emulator
from console.cli.train_emulator import SAMPLE_RATE, build_trainer
from console.plugins import get_plugins
from console.training.emulator_data import EffectPairDataset, split_clips
from console.training.emulator_metrics import compare_on
from console_effects.greybox import COMP_FEEDFORWARD, EQ_BIQUADS, SECTION_KINDS
from console_effects.tcn import TCNConfig

REPO = Path(__file__).resolve().parents[1]
TEST_EXAMPLES = 64
#: The workload the card's CPU cost is measured on: bench_fast_effects' emulator rows.
COST_TRACKS, COST_SECONDS = 2, 3.0


def cli_args(family: str, out: Path, steps: int, options: argparse.Namespace) -> argparse.Namespace:
    argv = [
        "train-emulator", family, "--out", str(out), "--steps", str(steps),
        "--batch-size", str(options.batch_size), "--workers", str(options.workers),
        "--val-every", str(max(50, steps // 4)), "--checkpoint-every", str(max(50, steps // 8)),
        "--lr", str(options.lr), "--l1-weight", str(options.l1_weight), "--no-progress",
    ]
    if options.response_steps is not None:
        argv += ["--response-steps", str(options.response_steps)]
    if options.channels is not None:
        argv += ["--channels", str(options.channels)]
    if options.warmup_steps is not None:
        argv += ["--warmup-steps", str(options.warmup_steps)]
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
    threads = torch.get_num_threads()
    return f"CPU only ({cpu}), {threads} thread{'' if threads == 1 else 's'}"


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


def cpu_cost(family: str, weights: Path, repeats: int = 5) -> dict:
    """CPU seconds per track-second on one thread: forward, and forward+backward.

    The backward takes gradients to the settings and the audio with the
    weights frozen, as ``console train`` runs an emulator; median of
    ``repeats`` calls on :data:`COST_TRACKS` x :data:`COST_SECONDS` of noise at
    random settings.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        emulator = get_plugins().resolve("effect", f"{family}:tcn").create(str(weights))
        generator = torch.Generator().manual_seed(1)
        audio = 0.1 * torch.randn(COST_TRACKS, 1, int(COST_SECONDS * SAMPLE_RATE),
                                  generator=generator)
        params = torch.stack([s.sample(COST_TRACKS, generator=generator)
                              for s in emulator.params], 1)

        def forward() -> None:
            with torch.no_grad():
                emulator(audio, params, SAMPLE_RATE)

        def forward_backward() -> None:
            p = params.clone().requires_grad_(True)
            emulator(audio.clone().requires_grad_(True), p, SAMPLE_RATE).square().mean().backward()

        result = {}
        for name, call in (("forward", forward), ("forward_backward", forward_backward)):
            call()  # warm-up: compiled loops, caches
            times = []
            for _ in range(repeats):
                start = time.process_time()
                call()
                times.append(time.process_time() - start)
            result[name] = statistics.median(times) / (COST_TRACKS * COST_SECONDS)
        return result
    finally:
        torch.set_num_threads(threads)


def network_description(emulator_class: type, cfg: dict) -> tuple[str, str]:
    """What the network is, and how far back it hears, for the card."""
    if cfg.get("network") == EQ_BIQUADS:
        kinds = ", ".join(dict.fromkeys(SECTION_KINDS))
        return (
            f"grey-box (`console_effects.greybox.BiquadSections`): five second-order sections "
            f"in series ({' -> '.join(SECTION_KINDS)}), each the bilinear transform (pre-warped "
            f"at the section's frequency) of an analogue section whose pole and zero "
            f"frequencies, Qs and gain a settings map sets from the section's frequency, gain "
            f"and Q; one map per kind of section ({kinds}; the three bells share one), each a "
            f"linear path plus an MLP of {cfg['layers']} tanh layers of {cfg['channels']}; a "
            f"section at 0 dB is exactly the identity whatever the weights; filtered by the "
            f"compiled biquad cascade of `eq:dsp`",
            "recursive filters (they hear the whole past)",
        )
    if cfg.get("network") == COMP_FEEDFORWARD:
        return (
            f"grey-box (`console_effects.greybox.FeedForwardCompressor`, after Wright and "
            f"Välimäki 2022): a feed-forward compressor (peak detector, attack/release one-pole "
            f"smoothing of the level, static curve with a quadratic knee, exact make-up gain) "
            f"whose threshold, ratio, attack and release time constants and knee a settings "
            f"map sets from the knobs (a linear path plus an MLP of {cfg['layers']} tanh layers "
            f"of {cfg['channels']}); ratio 1 is exactly no compression whatever the weights; run "
            f"by the compiled kernels of `comp:dsp`",
            "a recursive detector (it hears the whole past)",
        )
    config = TCNConfig(**{k: v for k, v in cfg.items() if k != "network"})
    rf = emulator_class.build_network(config).receptive_field
    rate = emulator_class.internal_rate
    return (
        f"FiLM-conditioned causal TCN, {cfg['channels']} channels, kernel "
        f"{cfg['kernel_size']}, dilations {cfg['dilations']}",
        f"receptive field {rf} samples at {rate} Hz ({rf / rate:.2f} s)",
    )


def flatness_db(family: str, weights: Path) -> float:
    """Largest ``|dB|`` of the response from 20 Hz to 20 kHz with every gain at 0 dB."""
    emulator = get_plugins().resolve("effect", f"{family}:tcn").create(str(weights))
    generator = torch.Generator().manual_seed(0)
    params = torch.stack([s.sample(256, generator=generator) for s in emulator.params], 1)
    for i, spec in enumerate(emulator.params):
        if spec.unit == "dB":
            params[:, i] = 0.0
    worst = 0.0
    for rate in (44100, 48000):
        freqs, magnitude_db = emulator.frequency_response(params.double(), rate, n_freqs=2048)
        worst = max(worst, float(magnitude_db[:, freqs <= 20000.0].abs().max()))
    return worst


def model_card(family: str, info: dict, scores: dict, cost: dict, steps: int, seconds: float,
               params: int, weights: Path, options: argparse.Namespace) -> str:
    emulator_class = get_plugins().resolve("effect", f"{family}:tcn").factory
    network, reach = network_description(emulator_class, info["config"])
    stages = f"{steps} steps on audio" if steps else "no audio steps"
    if info.get("response_steps"):
        fits = ", ".join(
            f"{kind} {db:.3f} dB (bypass {info['response_bypass_db'][kind]:.2f} dB)"
            for kind, db in info["response_fit_db"].items()
        )
        stages = (f"{info['response_steps']} steps fitting each section's frequency response to "
                  f"the reference's impulse responses (`console.training.response_fit`: AdamW "
                  f"lr 2e-3, cosine decay, 64 random settings per kind of section a step; mean "
                  f"absolute error, 20 Hz-20 kHz, held-out settings: {fits}), then {stages}")
    rows = "\n".join(
        f"| {name} | {s['mrstft']:.4f} | {s['snr_db']:.1f} |" for name, s in scores.items()
    )
    reference = info["reference"]
    if reference == "pedalboard":
        import pedalboard

        reference = f"pedalboard {pedalboard.__version__}"
    audio = (f"; batch {options.batch_size}, AdamW lr {options.lr:g} with warm-up and cosine "
             f"decay, loss {options.l1_weight:g} x L1 + multi-resolution STFT (auraloss), best "
             f"validation checkpoint") if steps else ""
    response = f"--response-steps {info['response_steps']} " if info.get("response_steps") else ""
    channels = f"--channels {options.channels} " if options.channels is not None else ""
    warmup = f"--warmup-steps {options.warmup_steps} " if options.warmup_steps is not None else ""
    audio_options = (f"--batch-size {options.batch_size} --lr {options.lr:g} {warmup}--l1-weight "
                     f"{options.l1_weight:g}\n--workers {options.workers} ") if steps else ""
    command = (
        f"python scripts/train_emulators.py --families {family} --steps {steps}\n{response}"
        f"{channels}{audio_options}--threads {torch.get_num_threads()}"
    )
    flat = ""
    if hasattr(emulator_class, "frequency_response"):
        flat = (f"\n- Set flat (every gain 0 dB; 256 random frequencies and Qs): largest "
                f"deviation from 0 dB between 20 Hz and 20 kHz {flatness_db(family, weights):.2g} "
                f"dB, at 44.1 and 48 kHz.")
    note = f"\n{options.card_note.strip()}\n" if options.card_note else ""
    return f"""# Model card: `{family}:tcn`

What: the neural emulator of the {family} effect, the default `{family}` in spec
strings (the name keeps the `:tcn` of the TCN it replaced). Settings are those of
`{emulator_class.dsp_reference}` (see the effect's docstring for any narrowed range).

- Reference it was trained against: **{reference}** (`--reference {options.reference}`).
- Network: {network}; {params} weights; {reach}.
- Data: {info['audio']}; files split train/validation/test by a hash of their
  name (`console.training.emulator_data.split_of`). Each example: {info['segment_samples']}
  samples at {SAMPLE_RATE} Hz built from 1-3 clips at random times and levels, peak
  level uniform in -36..-1 dBFS; settings uniform in the ParamSpecs' normalised ranges.
- Training: {stages}{audio}.
- Hardware and time: {hardware()}; {seconds / 60:.1f} min of training.
- CPU cost (one thread, {COST_TRACKS} tracks x {COST_SECONDS:g} s at {SAMPLE_RATE} Hz, CPU
  seconds per track-second, median of 5): forward {cost['forward']:.4f}, forward+backward
  {cost['forward_backward']:.4f} (gradients to the settings and the audio, weights frozen).{flat}
- Held-out fidelity ({TEST_EXAMPLES} examples from the test files, processed by the
  reference at random settings; MR-STFT error is auraloss' default
  `MultiResolutionSTFTLoss`, lower is better; SNR against the reference, higher is better):

| output | MR-STFT error | SNR (dB) |
| --- | --- | --- |
{rows}

`bypass` is the unprocessed input; `dsp` is `{emulator_class.dsp_reference}` at the same settings.

Reproduce: `{command}` (a GPU is used when there is one).
{note}"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", nargs="+", default=["eq", "comp", "reverb"])
    parser.add_argument("--minutes", type=float, default=10.0, help="training budget per family")
    parser.add_argument("--steps", type=int, default=None, help="fixed steps (skips fitting)")
    parser.add_argument(
        "--response-steps", type=int, default=None,
        help="response-fitting steps of a linear emulator (eq) before the audio steps",
    )
    parser.add_argument(
        "--channels", type=int, default=None, help="network width (default: the emulator's)"
    )
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--warmup-steps", type=int, default=None,
                        help="warm-up steps of the audio training (default: the command's)")
    parser.add_argument("--l1-weight", type=float, default=1.0)
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--audio", type=Path, default=None)
    parser.add_argument("--reference", default="auto")
    parser.add_argument("--device", default=None)
    parser.add_argument("--card-note", default=None,
                        help="a paragraph appended to the model card (how the recipe was chosen)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads for training (default: torch's)")
    parser.add_argument("--runs", type=Path, default=Path("runs/emulators"))
    parser.add_argument("--weights-dir", type=Path, default=REPO / "src/console_effects/weights")
    options = parser.parse_args()
    if options.threads is not None:
        torch.set_num_threads(options.threads)
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
        cost = cpu_cost(family, best)
        data = torch.load(best, map_location="cpu", weights_only=True)
        data["info"].update(
            steps=steps, batch_size=options.batch_size, train_seconds=round(seconds, 1),
            hardware=hardware(), held_out=scores, cpu_seconds_per_track_second=cost,
            best_val=history.best_val if history else None,
        )
        torch.save(data, options.weights_dir / f"{family}.pt")
        n_weights = sum(v.numel() for v in data["state_dict"].values())
        card = model_card(family, data["info"], scores, cost, steps, seconds, n_weights,
                          options.weights_dir / f"{family}.pt", options)
        (options.weights_dir / f"{family}.md").write_text(card, encoding="utf-8")
        summary[family] = {"steps": steps, "seconds": seconds, "held_out": scores, "cpu": cost}
        print(json.dumps({family: summary[family]}, indent=1), flush=True)
    summary_file = options.runs / "summary.json"  # families not retrained keep theirs
    earlier = json.loads(summary_file.read_text()) if summary_file.is_file() else {}
    summary_file.write_text(json.dumps({**earlier, **summary}, indent=1))


if __name__ == "__main__":
    main()
