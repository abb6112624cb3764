"""Train emulators and write their weights and model cards (the shipped ones, when asked).

For each emulator named (default: the paper's TCNs ``eq:tcn comp:tcn
reverb:tcn``; any registered emulator trains, e.g. ``eq:greybox``) it runs
``console train-emulator`` (the same code path a user gets) for ``--minutes``
of wall time (or ``--steps``), keeps the checkpoint with the lowest validation
loss, scores it on the validation files and, once, on the test files (that use
is appended to ``--test-log``), times it (CPU seconds per track-second on one
thread, forward and forward+backward), and writes ``NAME.pt`` and its card
``NAME.md`` (``eq-tcn.pt``, ``eq-tcn.md``) to ``--weights-dir``.

It never replaces a file that exists (the shipped weights, by default) unless
given ``--force``; it checks before training, and it writes a card only for
the weights it has just written, after them.

    python scripts/train_emulators.py --weights-dir /tmp/w          # a try, elsewhere
    python scripts/train_emulators.py comp:tcn --minutes 40 --force  # replace shipped weights

``scripts/train_reverb_emulator.py`` trains ``reverb:greybox`` with its own loss.
Training runs on one CPU thread unless ``--threads`` says otherwise (a GPU is used
when there is one). The audio is Debian's sonic-pi-samples (or ``--audio FOLDER``).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import torch

from console.cli import train_emulator
from console.cli.train_emulator import resolve_emulator
from console.errors import ConsoleError
from console.training.emulator_report import (
    HELD_OUT_EXAMPLES,
    SAMPLE_RATE,
    check_writable,
    cost_sentence,
    cpu_cost,
    fidelity,
    fidelity_table,
    hardware,
    held_out_pairs,
    log_test_use,
    write_weights_and_card,
)
from console_effects.greybox import COMP_FEEDFORWARD, EQ_BIQUADS, SECTION_KINDS
from console_effects.reverb_emulator import FREEVERB_NETWORK

REPO = Path(__file__).resolve().parents[1]
DEFAULT_EMULATORS = ("eq:tcn", "comp:tcn", "reverb:tcn")
TEST_LOG = REPO / "benchmarks" / "results" / "emulator-test-uses.log"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("emulators", nargs="*", default=list(DEFAULT_EMULATORS),
                        help="registered emulators by name (default: %(default)s)")
    parser.add_argument("--minutes", type=float, default=40.0,
                        help="wall-clock budget of each emulator's audio steps (default 40)")
    parser.add_argument("--steps", type=int, default=None,
                        help="fixed audio steps instead of the budget")
    parser.add_argument("--response-steps", type=int, default=None,
                        help="response-fitting steps of a linear emulator (eq) before the audio")
    parser.add_argument("--channels", type=int, default=None,
                        help="network width (default: the emulator's)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--segment-seconds", type=float, default=None,
                        help="length of each example (default: the emulator's own)")
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--warmup-steps", type=int, default=None)
    parser.add_argument("--l1-weight", type=float, default=1.0)
    parser.add_argument("--envelope-weight", type=float, default=0.0,
                        help="weight of the log-envelope term (the reverb's decay)")
    parser.add_argument("--val-every", type=int, default=100)
    parser.add_argument("--val-examples", type=int, default=32)
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--audio", type=Path, default=None)
    parser.add_argument("--reference", default="auto")
    parser.add_argument("--device", default=None)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads for training (default 1)")
    parser.add_argument("--runs", type=Path, default=REPO / "runs" / "emulators",
                        help="run folders (a rerun with the same folder resumes)")
    parser.add_argument("--weights-dir", type=Path, default=REPO / "src/console_effects/weights")
    parser.add_argument("--force", action="store_true",
                        help="replace weights and cards that exist (the shipped ones)")
    parser.add_argument("--test-log", type=Path, default=TEST_LOG,
                        help="where each scoring of the test files is logged")
    parser.add_argument("--card-note", default=None,
                        help="a paragraph appended to each card (how the recipe was chosen)")
    return parser.parse_args(argv)


def cli_args(name: str, out: Path, options: argparse.Namespace) -> argparse.Namespace:
    """The ``console train-emulator`` arguments of this run."""
    steps = options.steps if options.steps is not None else 100_000
    argv = [
        "train-emulator", name, "--out", str(out), "--steps", str(steps),
        "--batch-size", str(options.batch_size), "--workers", str(options.workers),
        "--val-every", str(options.val_every), "--val-examples", str(options.val_examples),
        "--checkpoint-every", str(options.val_every), "--lr", str(options.lr),
        "--l1-weight", str(options.l1_weight), "--envelope-weight", str(options.envelope_weight),
        "--reference", options.reference, "--no-progress",
    ]
    if options.steps is None:
        argv += ["--max-time", f"{options.minutes * 60:.0f}s"]
    for flag in ("response_steps", "channels", "warmup_steps", "segment_seconds", "audio",
                 "device"):
        value = getattr(options, flag)
        if value is not None and (flag != "response_steps" or is_linear(name)):
            argv += [f"--{flag.replace('_', '-')}", str(value)]
    parser = argparse.ArgumentParser()
    train_emulator.add_parser(parser.add_subparsers())
    return parser.parse_args(argv)


def command_line(name: str, options: argparse.Namespace) -> str:
    """How to rerun this emulator's training."""
    words = ["python", "scripts/train_emulators.py", name]
    budget = (["--steps", str(options.steps)] if options.steps is not None
              else ["--minutes", f"{options.minutes:g}"])
    words += budget + ["--batch-size", str(options.batch_size), "--lr", f"{options.lr:g}",
                       "--l1-weight", f"{options.l1_weight:g}",
                       "--envelope-weight", f"{options.envelope_weight:g}", "--val-every",
                       str(options.val_every), "--val-examples", str(options.val_examples),
                       "--threads", str(options.threads)]
    for flag in ("response_steps", "channels", "warmup_steps", "segment_seconds"):
        value = getattr(options, flag)
        if value is not None and (flag != "response_steps" or is_linear(name)):
            words += [f"--{flag.replace('_', '-')}", str(value)]
    return shlex.join(words) + " --force"


def is_linear(name: str) -> bool:
    """Whether the emulator's network is fitted to frequency responses first (the EQs)."""
    from console.training.response_fit import fits_responses

    emulator_class = resolve_emulator(name).factory
    return fits_responses(emulator_class(config=emulator_class.default_config()))


def network_description(emulator, config: dict) -> tuple[str, str]:
    """What the network is, and how far back it hears, for the card."""
    kind = config.get("network", "tcn")
    if kind == EQ_BIQUADS:
        kinds = ", ".join(dict.fromkeys(SECTION_KINDS))
        return (
            f"grey-box (`console_effects.greybox.BiquadSections`): five second-order sections "
            f"in series ({' -> '.join(SECTION_KINDS)}), each the bilinear transform (pre-warped "
            f"at the section's frequency) of an analogue section whose pole and zero "
            f"frequencies, Qs and gain a settings map sets from the section's frequency, gain "
            f"and Q; one map per kind of section ({kinds}; the three bells share one), each a "
            f"linear path plus an MLP of {config['layers']} tanh layers of {config['channels']}; "
            f"a section at 0 dB is exactly the identity whatever the weights; filtered by the "
            f"compiled biquad cascade of `eq:dsp`",
            "recursive filters (they hear the whole past)",
        )
    if kind == COMP_FEEDFORWARD:
        return (
            f"grey-box (`console_effects.greybox.FeedForwardCompressor`, after Wright and "
            f"Välimäki 2022): a feed-forward compressor (peak detector, attack/release one-pole "
            f"smoothing of the level, static curve with a quadratic knee, exact make-up gain) "
            f"whose threshold, ratio, attack and release time constants and knee a settings "
            f"map sets from the knobs (a linear path plus an MLP of {config['layers']} tanh "
            f"layers of {config['channels']}); ratio 1 is exactly no compression whatever the "
            f"weights; run by the compiled kernels of `comp:dsp`",
            "a recursive detector (it hears the whole past)",
        )
    if kind == FREEVERB_NETWORK:
        return (
            f"grey-box (`console_effects.reverb_emulator`): Freeverb's combs and all-passes "
            f"whose feedback, damping, width and wet level a settings map sets (an MLP of "
            f"{config['layers']} tanh layers of {config['channels']})",
            "recursive (it hears the whole past)",
        )
    rf = emulator.network.receptive_field
    rate = emulator.internal_rate
    sectioned = hasattr(emulator.network, "section_kinds")
    what = ("linear (no activations, biases or FiLM shifts: an LTI filter for fixed settings) "
            if config.get("linear") else "PReLU activations, ")
    shape = (f"FiLM-conditioned causal TCN ({what}{config['channels']} channels, kernel "
             f"{config['kernel_size']}, dilations {list(config['dilations'])}, conditioning "
             f"MLP of width {config['cond_dim']}; `console_effects.tcn`)")
    if sectioned:
        shape = (f"one {shape} per kind of section "
                 f"({', '.join(dict.fromkeys(emulator.network.section_kinds))}; the three bells "
                 f"share one), in series, each adding its output to a dry path")
    return shape, f"receptive field {rf} samples at {rate} Hz ({rf / rate:.2f} s)"


def flatness_db(emulator) -> float:
    """Largest ``|dB|`` of the response from 20 Hz to 20 kHz with every gain at 0 dB."""
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


def model_card(emulator, info: dict, options: argparse.Namespace) -> str:
    kind = type(emulator)
    network, reach = network_description(emulator, info["config"])
    steps = info["steps"]
    stages = f"{steps} steps on audio" if steps else "no audio steps"
    if info.get("response_steps"):
        fits = ", ".join(
            f"{k} {db:.3f} dB (bypass {info['response_bypass_db'][k]:.2f} dB)"
            for k, db in info["response_fit_db"].items()
        )
        stages = (f"{info['response_steps']} steps fitting each section's frequency response to "
                  f"the reference's impulse responses (`console.training.response_fit`: AdamW "
                  f"lr 2e-3, cosine decay, 64 random settings per kind of section a step; mean "
                  f"absolute error, 20 Hz-20 kHz, held-out settings: {fits}), then {stages}")
    reference = info["reference"]
    if reference == "pedalboard":
        import pedalboard

        reference = f"pedalboard {pedalboard.__version__}"
    fixed = info.get("fixed_settings") or {}
    held = (f" with {', '.join(f'`{k}` {v:g}' for k, v in fixed.items())} (the wet signal "
            f"alone: the mix is exact, outside the network)") if fixed else ""
    envelope = (f" + {options.envelope_weight:g} x the mean absolute difference of log "
                f"frame energies (1024-sample frames, broadband and of the first difference, "
                f"down to 60 dB below the mean level: the tail's decay)"
                if options.envelope_weight else "")
    audio = (f"; batch {options.batch_size}, AdamW lr {options.lr:g} with warm-up and cosine "
             f"decay over the run, loss {options.l1_weight:g} x L1 + multi-resolution STFT "
             f"(auraloss){envelope}; the checkpoint with the lowest validation loss "
             f"({options.val_examples} "
             f"examples from the validation files, every {options.val_every} steps), step "
             f"{info.get('best_step', '?')} of {steps}") if steps else ""
    flat = ""
    if hasattr(emulator, "frequency_response"):
        flat = (f"\n- Set flat (every gain 0 dB; 256 random frequencies and Qs): largest "
                f"deviation from 0 dB between 20 Hz and 20 kHz {flatness_db(emulator):.2g} dB, "
                f"at 44.1 and 48 kHz.")
    paper = ("the paper's kind of network (Steinmetz et al. 2021: a FiLM-conditioned TCN)"
             if info["config"].get("network", "tcn") == "tcn"
             else "a grey-box, beyond the paper (the default in spec strings)")
    ratio = info["test"]["emulator"]["mrstft"] / info["test"]["bypass"]["mrstft"]
    wet = " (the wet signal alone)" if fixed else ""
    note = f"\n{options.card_note.strip()}\n" if options.card_note else ""
    return f"""# Model card: `{kind.name}`

What: the {kind.family} emulator `{kind.name}`, {paper}. Settings are those of
`{kind.dsp_reference}` (see `console plugins` for what each one reaches).

- Reference it was trained against: **{reference}** (`--reference {options.reference}`).
- Network: {network}; {info['weights']} weights; {reach}.
- Data: {info['audio']}; files split train/validation/test by a hash of their
  name (`console.training.emulator_data.split_of`). Each example: {info['segment_samples']}
  samples at {SAMPLE_RATE} Hz built from 1-3 clips at random times and levels, peak
  level uniform in -36..-1 dBFS; settings uniform in the ParamSpecs' normalised ranges{held}.
- Training: {stages}{audio}.
- Hardware and time: {info['hardware']}; {info['train_seconds'] / 60:.1f} min of training
  (wall time, on a machine shared with other jobs).
- {cost_sentence(info['cpu_seconds_per_track_second'])}{flat}
- Held-out fidelity{wet}: {HELD_OUT_EXAMPLES} examples each from the validation files
  (where choices are made) and the test files (scored once, for these weights: the use is
  logged in `benchmarks/results/{options.test_log.name}`), processed by the reference at
  random settings; MR-STFT error is auraloss' default `MultiResolutionSTFTLoss`, lower is
  better; SNR against the reference, higher is better. `bypass` is the unprocessed input,
  `dsp` is `{kind.dsp_reference}` at the same settings.

Validation:

{fidelity_table(info['validation'])}

Test (the emulator's MR-STFT error is {ratio:.2f} x bypass's):

{fidelity_table(info['test'])}

Reproduce: `{info['command']}` (the time budget makes the step count depend on the
machine; `--steps {steps}` fixes it).
{note}"""


def train_one(name: str, options: argparse.Namespace) -> dict:
    component = resolve_emulator(name)
    emulator_class = component.factory
    target = options.weights_dir / f"{emulator_class.weights_stem()}.pt"
    run_dir = options.runs / emulator_class.weights_stem()
    args = cli_args(component.name, run_dir, options)
    reused = (run_dir / train_emulator.IDENTIFIED).is_file()  # a response fit made before
    start = time.perf_counter()
    trainer, history = train_emulator.train(args)
    seconds = time.perf_counter() - start
    if reused:  # count the earlier fit's time in the total
        seconds += trainer.task.describe().get("response_seconds", 0.0)
    emulator = emulator_class(run_dir / "best.pt")
    info = dict(emulator.checkpoint_info)
    best_step = next((step for step, loss in history.val if loss == history.best_val), None) \
        if history and history.val else None
    dsp = get_dsp(emulator_class)
    scores = {}
    for split in ("validation", "test"):
        data, source = held_out_pairs(emulator_class, split, audio=options.audio,
                                      reference_kind=options.reference)
        found = fidelity({"emulator": emulator, "bypass": None, "dsp": dsp}, data)
        scores[split] = {k: {"mrstft": f.mrstft, "snr_db": f.snr_db} for k, f in found.items()}
        if split == "test":
            log_test_use(options.test_log, f"scripts/train_emulators.py {component.name}: "
                         f"{run_dir / 'best.pt'} -> {target} (audio {source})")
    info.update(
        steps=trainer.step if history is not None else 0, best_step=best_step,
        batch_size=options.batch_size, train_seconds=round(seconds, 1), hardware=hardware(),
        validation=scores["validation"], test=scores["test"],
        cpu_seconds_per_track_second=cpu_cost(emulator),
        weights=sum(p.numel() for p in emulator.parameters()),
        command=command_line(component.name, options),
    )
    write_weights_and_card(lambda path: emulator.save(path, info), target,
                           lambda: model_card(emulator, info, options))
    return {k: info[k] for k in ("steps", "train_seconds", "validation", "test",
                                 "cpu_seconds_per_track_second")}


def get_dsp(emulator_class) -> torch.nn.Module:
    from console.plugins import get_plugins

    return get_plugins().resolve("effect", emulator_class.dsp_reference).create()


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    torch.set_num_threads(options.threads)
    try:
        names = [resolve_emulator(name).name for name in options.emulators]
        stems = [resolve_emulator(name).factory.weights_stem() for name in names]
        options.weights_dir.mkdir(parents=True, exist_ok=True)
        check_writable([options.weights_dir / f"{stem}.{suffix}" for stem in stems
                        for suffix in ("pt", "md")], options.force)
    except ConsoleError as exc:
        print(f"train_emulators: {exc}", file=sys.stderr)
        return 2
    summary = {}
    for name in names:
        summary[name] = train_one(name, options)
        print(json.dumps({name: summary[name]}, indent=1), flush=True)
    summary_file = options.runs / "summary.json"  # emulators not retrained keep theirs
    earlier = json.loads(summary_file.read_text()) if summary_file.is_file() else {}
    summary_file.write_text(json.dumps({**earlier, **summary}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
