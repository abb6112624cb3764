"""Reproduce a pretrained console shipped in ``console/pretrained``.

Writes synthetic sessions, trains with ``console train``, evaluates the result
on held-out sessions against the mono and random baselines, and installs the
weights with a model card. Run from the repository root::

    python scripts/train_pretrained.py --spec gain+pan --steps 800

Everything is seeded; on a 2-core CPU the default run takes about half an hour.
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

from console import Console
from console.audio import load_stems, read_audio
from console.chain import EffectChain
from console.losses import StereoSTFTLoss
from console.losses.balance import balance_error
from console.streaming import stream_mix

ROOT = Path(__file__).resolve().parents[1]
PRETRAINED = ROOT / "src" / "console" / "pretrained"
ENCODER = {"channels": [16, 32, 64, 64], "fc": [256, 256]}


def console_cli(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "console.cli.main", *args], check=True)


def evaluate(console: Console, songs: list[Path], seed: int) -> dict[str, dict[str, float]]:
    """Whole held-out songs: MR-STFT loss and signed balance error of console, mono, random."""
    loss = StereoSTFTLoss()
    chain = EffectChain.from_spec(console.spec)
    g = torch.Generator().manual_seed(seed)
    totals = {name: {"mrstft": 0.0, "balance": 0.0} for name in ("console", "mono", "random")}
    for song in songs:
        stems = load_stems(song / "stems")
        reference, _ = read_audio(song / "mix.wav")
        k, sr = stems.audio.shape[0], stems.sample_rate
        mix, _ = stream_mix(console.eval(), stems.paths, sr)
        defaults = chain.defaults().expand(k, -1)
        random = torch.stack([s.spec.sample(k, generator=g) for s in chain.layout], dim=-1)
        with torch.no_grad():
            mono = chain(stems.audio, defaults, sr).sum(0)
            rand = chain(stems.audio, random, sr).sum(0)
            for name, m in (("console", mix), ("mono", mono), ("random", rand)):
                totals[name]["mrstft"] += float(loss(m[None], reference[None]))
                totals[name]["balance"] += float(balance_error(m[None], reference[None]))
    return {
        name: {k: v / len(songs) for k, v in scores.items()} for name, scores in totals.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--spec", default="gain+pan", help="the chain to train")
    parser.add_argument(
        "--name", default=None, help="name of the shipped console (default: the spec)"
    )
    parser.add_argument("--loss", default="stereo:balanced")
    parser.add_argument("--loss-options", default=None, help="JSON (console train --loss-options)")
    parser.add_argument("--init", default=None, help="warm start (console train --init)")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--steps", type=int, default=800)
    parser.add_argument("--songs", type=int, default=96)
    parser.add_argument("--held-out", type=int, default=12)
    parser.add_argument("--sample-rate", type=int, default=22050)
    parser.add_argument("--work", type=Path, default=ROOT / "out" / "pretrain")
    args = parser.parse_args()
    name = args.name or args.spec
    work = args.work / name
    data, held_out, run = args.work / "sessions", args.work / "held-out", work / "run"
    if not data.exists():
        console_cli("make-sessions", str(data), "--n", str(args.songs), "--duration", "10",
                    "--sample-rate", str(args.sample_rate), "--seed", "1000")
    if not held_out.exists():
        console_cli("make-sessions", str(held_out), "--n", str(args.held_out), "--duration",
                    "10", "--sample-rate", str(args.sample_rate), "--seed", "900000")
    start = time.time()
    console_cli(
        "train", "--spec", args.spec, "--data", str(data), "--out", str(run),
        "--sample-rate", str(args.sample_rate), "--segment-seconds", "3", "--batch-size", "4",
        "--steps", str(args.steps), "--lr", str(args.lr), "--warmup-steps", "50",
        "--val-every", "100", "--checkpoint-every", "50", "--hidden", "128",
        "--encoder-options", json.dumps(ENCODER), "--split", "0.9,0.1,0", "--loss", args.loss,
        *(["--init", args.init] if args.init else []),
        *(["--loss-options", args.loss_options] if args.loss_options else []),
    )
    minutes = (time.time() - start) / 60
    state = torch.load(run / "train_state.pt", weights_only=True)
    console = Console.load(run / "best.pt")
    scores = evaluate(console, sorted(p for p in held_out.iterdir() if p.is_dir()), seed=0)
    PRETRAINED.mkdir(parents=True, exist_ok=True)
    shutil.copy(run / "best.pt", PRETRAINED / f"{name}.pt")
    shutil.copy(run / "loss.png", work / "loss.png")
    params = sum(p.numel() for p in console.parameters())
    init = f"; warm-started from `{args.init}`" if args.init else ""
    options = f" --loss-options '{args.loss_options}'" if args.loss_options else ""
    rows = "\n".join(
        f"| {label} | {scores[key]['mrstft']:.3f} | {scores[key]['balance']:.3f} |"
        for key, label in (
            ("console", "this console"),
            ("mono", "mono (every effect at its default: unity gain, centred, flat)"),
            ("random", "random (every setting drawn from its range)"),
        )
    )
    command = f"python scripts/train_pretrained.py --spec {args.spec} --steps {args.steps}"
    for flag, value in (("--name", args.name), ("--init", args.init)):
        command += f" {flag} {value}" if value else ""
    if args.loss != "stereo:balanced":
        command += f" --loss {args.loss}"
    if args.loss_options:
        command += f" --loss-options '{args.loss_options}'"
    card = f"""# Pretrained console `{name}`

- Spec: `{console.spec}`; encoder `{console.encoder_name}` with options `{console.encoder_options}`
  (a narrow VGGish, {params / 1e6:.2f} M parameters in all), post-processor width {console.hidden}.
- Data: {args.songs} synthetic sessions (`console make-sessions --seed 1000`, 10 s each,
  {args.sample_rate} Hz, real samples from Debian's sonic-pi-samples where installed, else
  procedural); 90 % train, 10 % validation, by song. Reference mixes by the rule-based engineer.
- Training: `console train --loss {args.loss}{options}`, {state['step']} steps of batch 4 × 3 s
  segments, AdamW lr {args.lr:g}, 50 warm-up steps then cosine decay, gradient clipping at
  1{init}; best validation loss {state['history']['best_val']:.4f} (weights of the best
  validation step).
- Hardware: {platform.processor() or platform.machine()}, {torch.get_num_threads()} CPU threads,
  no GPU; {minutes:.1f} minutes of training.
- Held-out evaluation: {args.held_out} other sessions (`--seed 900000`), whole 10 s songs,
  against the engineer's mix (lower is better for both): the stereo sum/difference
  MR-STFT loss (FFT 512/2048/8192), and the signed balance error of `stereo:balanced`
  (0 when every time-frequency tile sits on the reference's side, 2 when all are mirrored).

| system | MR-STFT loss | balance error |
|---|---|---|
{rows}

Reproduce with `{command}`.
"""
    (PRETRAINED / f"{name}.md").write_text(card)
    print(card)


if __name__ == "__main__":
    main()
