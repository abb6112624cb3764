"""Reproduce a console shipped in ``console/pretrained``, with its model card.

Everything follows the leave-one-source-out protocol of
``benchmarks/bench_generalisation.py``: sessions from recorded sources,
training on the training sources with ``console train``'s defaults, the
checkpoint chosen by its loss on the validation source, the validation table
printed for choosing, and (only with ``--final``) one pass over the test
source, whose figures go into the card beside the validation ones. Run from
the repository root::

    python scripts/train_pretrained.py --spec gain+pan --steps 1500            # choose
    python scripts/train_pretrained.py --spec gain+pan --steps 1500 --final    # ship

A finished run is not trained again; ``--final`` on it evaluates and ships.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import bench_generalisation as loso  # noqa: E402

from console import Console  # noqa: E402
from console.chain import EffectChain  # noqa: E402
from console.data.recorded import COLOUR_TREBLE_SHARE  # noqa: E402
from console.pretrained import file_stem  # noqa: E402

PRETRAINED = ROOT / "src" / "console" / "pretrained"
METRICS = """\
How the numbers were made: every system mixes every whole 10 s song of the split at
22050 Hz and is compared with the engineer's reference mix of that song (which has
the engineer's EQ, compression and reverb). `stereo` is the sum and difference
MR-STFT distance (FFT 512/2048/8192) with both mixes at -23 LUFS, the paper's
objective; `mid (L+R)` is its sum part alone, which judges level balance and
spectrum but not the image; `level err` is the mean absolute error, in dB, of each
track's post-fader loudness relative to its song's other tracks, against the
engineer's faders; `pan err` the mean absolute difference of each track's pan from
the engineer's or its mirror image, whichever is closer (engineers pan drums from
either side); `mean pan` is the mean signed pan position over all tracks and
`panned L / R` the shares of tracks panned by at least 0.1 to each side. Lower is
better for the first four. The role tables give, per role, each system's mean |pan|
and mean deviation from equal loudness (a track's post-fader loudness minus its
song's mean; the engineer's is the row `engineer faders+pans, dry`). Baselines, by
what they render: `mono` every stem at unity gain, centred; `random` a gain drawn in
±12 dB and a pan in [-1, 1] per stem; `loudness` every stem at equal loudness
(BS.1770), centred; `role rules (told roles)` the engineer's plain rules for each
stem's role (loudness and conventional pan, no per-song style, no per-track taste),
*told* each stem's role, which no console is; `engineer faders+pans, dry` the
engineer's own gains and pans through gain+pan, without the engineer's EQ,
compression and reverb (not a bound: consoles can beat it on the audio metrics)."""


def console_cli(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "console.cli.main", *args], check=True)


def table(split: str, checkpoint: Path, label: str, final: bool, data: Path) -> str:
    """The benchmark's table for one split, with this console among the systems."""
    command = [sys.executable, str(ROOT / "benchmarks" / "bench_generalisation.py"),
               "--split", split, "--data", str(data), "--systems", f"{label}={checkpoint}",
               "--out", str(checkpoint.parent / "tables")]
    if final:
        command.append("--final")
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return (checkpoint.parent / "tables" / f"{split}.md").read_text(encoding="utf-8").strip()


def shared_table(folder: Path, checkpoint: Path, split: str) -> str:
    """The table of a benchmark run that scored several consoles, checked to hold this one."""
    payload = json.loads((folder / f"{split}.json").read_text(encoding="utf-8"))
    labels = [label for label, source in payload["systems"].items()
              if Path(source).resolve() == checkpoint.resolve()]
    if payload.get("split") != split or not labels:
        sys.exit(f"{folder} holds no {split} table that scored {checkpoint}.")
    note = f"This console is the row `{labels[0]}`; every row comes from one run."
    return (folder / f"{split}.md").read_text(encoding="utf-8").strip() + "\n\n" + note


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spec", default="gain+pan", help="the chain to train")
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--init", default=None, help="warm start (console train --init)")
    parser.add_argument("--train-options", default="",
                        help="further `console train` options, e.g. '--encoder vggish'")
    parser.add_argument("--final", action="store_true",
                        help="score the test source once and install the console with its card")
    parser.add_argument("--test-table", type=Path, default=None,
                        help="with --final: the folder of one `bench_generalisation.py --split "
                        "test --final` run that scored this console beside the other shipped "
                        "ones, so the test source is touched once for all of them")
    parser.add_argument("--validation-table", type=Path, default=None,
                        help="the folder of one `bench_generalisation.py --split validation` "
                        "run that scored this console beside the others it was chosen "
                        "among (default: score it alone)")
    parser.add_argument("--colour", action="store_true",
                        help="train on the coloured copies of the training songs "
                        "(DATA/train-colour, see bench_generalisation.TRAIN_COLOUR_DB)")
    parser.add_argument("--history", default="",
                        help="a paragraph for the card on where this console came from, e.g. "
                        "that it was trained in an earlier round against other validation sources")
    parser.add_argument("--force", action="store_true",
                        help="with --final: replace a shipped console of the same chain")
    parser.add_argument("--train-sets", type=int, default=1,
                        help="sets of training songs: 1 is DATA/train; N > 1 also writes N - 1 "
                        "more sets with other seeds and trains on DATA/trainN "
                        "(bench_generalisation.EXTRA_SEED_OFFSETS)")
    parser.add_argument("--data", type=Path, default=loso.DATA)
    parser.add_argument("--work", type=Path, default=ROOT / "out" / "pretrain")
    args = parser.parse_args()
    name = EffectChain.from_spec(args.spec).spec
    shipped = PRETRAINED / f"{file_stem(name)}.pt"
    if args.final and shipped.exists() and not args.force:
        sys.exit(f"{shipped} is shipped already; pass --force to replace it and its card.")
    if args.colour and args.train_sets > 1:
        sys.exit("--colour trains on one coloured set of songs; leave out --train-sets")
    loso.make_data(args.data, colour=args.colour, extra_sets=args.train_sets - 1)
    run = args.work / file_stem(name) / "run"
    extra = args.train_options.split()
    train_folder = ("train-colour" if args.colour else
                    "train" if args.train_sets == 1 else f"train{args.train_sets}")
    train = ["train", "--spec", args.spec, "--data", str(args.data / train_folder), "--val-data",
             str(args.data / "val"), "--out", str(run), "--steps", str(args.steps),
             "--no-progress", *(["--init", args.init] if args.init else []), *extra]
    started = time.time()
    state_path = run / "train_state.pt"
    done = state_path.exists() and torch.load(state_path, weights_only=True)["step"] >= args.steps
    timing_file = run.parent / "training-time.json"
    if not done:
        console_cli(*train)
        timing_file.write_text(json.dumps({"minutes": (time.time() - started) / 60}))
    minutes = json.loads(timing_file.read_text())["minutes"] if timing_file.exists() else None
    state = torch.load(state_path, weights_only=True)
    best_step, best_val = min(state["history"]["val"], key=lambda x: x[1])
    checkpoint = run / "best.pt"
    if args.validation_table is None:
        validation = table("validation", checkpoint, "this console", False, args.data)
    else:
        validation = shared_table(args.validation_table, checkpoint, "validation")
    print(validation)
    if not args.final:
        print("\nNot shipped: pass --final to score the test source once and install it.")
        return
    if args.test_table is None:
        test = table("test", checkpoint, "this console", True, args.data)
    else:
        test = shared_table(args.test_table, checkpoint, "test")
    console = Console.load(checkpoint)
    params = sum(p.numel() for p in console.parameters())
    sources = {split: ", ".join(f"{s} ({loso.DATA_PLAN[s][0]} songs, seed "
                                f"{loso.DATA_PLAN[s][1]})" for s in loso.SPLITS[split])
               for split in loso.SPLITS}
    if args.train_sets > 1:
        offsets = ", ".join(f"+{o}" for o in loso.EXTRA_SEED_OFFSETS[:args.train_sets - 1])
        sources["train"] += (f"; and {args.train_sets - 1} more set(s) of the training "
                             f"sources' songs, seeds offset by {offsets}")
    decisions = ("gains relative to each track's measured loudness, pans whose sides balance "
                 "the field" if console.decisions.level == "loudness" else
                 f"{console.decisions.to_dict()}")
    timing = (f"{minutes:.1f} minutes of training (wall time)" if minutes is not None else
              "trained in an earlier invocation whose time was not recorded")
    reproduce = f"python scripts/train_pretrained.py --spec {args.spec} --steps {args.steps}"
    if args.colour:
        reproduce += " --colour"
    if args.train_sets > 1:
        reproduce += f" --train-sets {args.train_sets}"
    if args.init:
        reproduce += f" --init {args.init}"
    if extra:
        reproduce += f" --train-options {json.dumps(args.train_options)}"
    reproduce += " --final --force"
    steps = []  # the shared benchmark runs first, in the order they were made
    if args.validation_table is not None:
        steps.append("python benchmarks/bench_generalisation.py --split validation --systems "
                     "LABEL=CHECKPOINT ... --out VALIDATION")
        reproduce += " --validation-table VALIDATION"
    if args.test_table is not None:
        steps.append("python benchmarks/bench_generalisation.py --split test --final --systems "
                     "LABEL=CHECKPOINT ... --out TABLES")
        reproduce += " --test-table TABLES"
    reproduce = ", then ".join([*steps, reproduce])
    colour = (f"\n  Every training stem was also coloured by a random bass shelf within "
              f"±{loso.TRAIN_COLOUR_DB:g} dB and treble shelf within "
              f"±{COLOUR_TREBLE_SHARE * loso.TRAIN_COLOUR_DB:g} dB (`make-sessions --colour "
              f"{loso.TRAIN_COLOUR_DB:g}`); validation and test songs are as their "
              "source plays them." if args.colour else "")
    history = f"## History\n\n{args.history}\n\n" if args.history else ""
    card = f"""# Shipped console `{name}`

- Spec: `{console.spec}`; encoder `{console.encoder_name}` with options `{console.encoder_options}`
  ({params / 1e6:.2f} M parameters in all), post-processor `{console.post_processor_kind}`
  of width {console.hidden}.
  Decisions: {decisions}.
- Data: sessions generated from recorded sources by `console make-sessions` (10 s songs,
  22050 Hz, a band or a drum kit recorded piece by piece, 2 to 24 stems, every stem
  arriving up to ±20 dB from where the engineer wants it, the engineer's style varying
  from song to song; see the data docs). Training sources: {sources['train']}.{colour}
  Validation source (left out of training; used to choose the encoder, the
  parameterisation, the steps and the checkpoint): {sources['validation']}.
  Test source (never heard, touched once for the last table): {sources['test']}.
- Training: `console {' '.join(train).replace(str(ROOT) + '/', '')}`; {state['step']} steps,
  the weights of step {best_step} (lowest validation loss, {best_val:.4f}).
- Hardware: {platform.machine()}, {torch.get_num_threads()} CPU threads, no GPU;
  {timing}.

{history}## Validation source (used for choices)

{validation}

## Test source (touched once)

{test}

{METRICS}

Reproduce with `{reproduce}`.
"""
    PRETRAINED.mkdir(parents=True, exist_ok=True)
    shutil.copy(checkpoint, PRETRAINED / f"{file_stem(name)}.pt")
    (PRETRAINED / f"{file_stem(name)}.md").write_text(card, encoding="utf-8")
    print(card)


if __name__ == "__main__":
    main()
