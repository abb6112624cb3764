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
from console.streaming import stream_mix

ROOT = Path(__file__).resolve().parents[1]
PRETRAINED = ROOT / "src" / "console" / "pretrained"
ENCODER = {"channels": [16, 32, 64, 64], "fc": [256, 256]}


def console_cli(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "console.cli.main", *args], check=True)


def evaluate(console: Console, songs: list[Path], seed: int) -> dict[str, float]:
    """Mean stereo MR-STFT loss of whole held-out songs: console, mono and random mixes."""
    loss = StereoSTFTLoss()
    chain = EffectChain.from_spec(console.spec)
    g = torch.Generator().manual_seed(seed)
    totals = {"console": 0.0, "mono": 0.0, "random": 0.0}
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
                totals[name] += float(loss(m[None], reference[None]))
    return {name: total / len(songs) for name, total in totals.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--spec", default="gain+pan")
    parser.add_argument("--steps", type=int, default=800)
    parser.add_argument("--songs", type=int, default=96)
    parser.add_argument("--held-out", type=int, default=12)
    parser.add_argument("--sample-rate", type=int, default=22050)
    parser.add_argument("--work", type=Path, default=ROOT / "out" / "pretrain")
    args = parser.parse_args()
    name = args.spec
    work = args.work / name
    data, held_out, run = work / "sessions", work / "held-out", work / "run"
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
        "--steps", str(args.steps), "--lr", "1e-3", "--warmup-steps", "50",
        "--val-every", "100", "--checkpoint-every", "50", "--hidden", "128",
        "--encoder-options", json.dumps(ENCODER), "--split", "0.9,0.1,0",
    )
    minutes = (time.time() - start) / 60
    state = torch.load(run / "train_state.pt", weights_only=True)
    console = Console.load(run / "best.pt")
    scores = evaluate(console, sorted(p for p in held_out.iterdir() if p.is_dir()), seed=0)
    PRETRAINED.mkdir(parents=True, exist_ok=True)
    shutil.copy(run / "best.pt", PRETRAINED / f"{name}.pt")
    shutil.copy(run / "loss.png", work / "loss.png")
    params = sum(p.numel() for p in console.parameters())
    card = f"""# Pretrained console `{name}`

- Spec: `{console.spec}`; encoder `{console.encoder_name}` with options `{console.encoder_options}`
  (a narrow VGGish, {params / 1e6:.2f} M parameters in all), post-processor width {console.hidden}.
- Data: {args.songs} synthetic sessions (`console make-sessions --seed 1000`, 10 s each,
  {args.sample_rate} Hz, real samples from Debian's sonic-pi-samples where installed, else
  procedural); 90 % train, 10 % validation, by song. Reference mixes by the rule-based engineer.
- Training: `console train`, {state['step']} steps of batch 4 × 3 s segments, AdamW lr 1e-3,
  50 warm-up steps then cosine decay, gradient clipping at 1; best validation loss
  {state['history']['best_val']:.4f} (weights of the best validation step).
- Hardware: {platform.processor() or platform.machine()}, {torch.get_num_threads()} CPU threads,
  no GPU; {minutes:.1f} minutes of training.
- Held-out evaluation: {args.held_out} other sessions (`--seed 900000`), whole 10 s songs,
  stereo sum/difference MR-STFT loss (FFT 512/2048/8192) against the engineer's mix
  (lower is better):

| system | MR-STFT loss |
|---|---|
| this console | {scores['console']:.3f} |
| mono (every stem at 0 dB, centred) | {scores['mono']:.3f} |
| random (gain and pan drawn from their ranges) | {scores['random']:.3f} |

Reproduce with `python scripts/train_pretrained.py --spec {name} --steps {args.steps}`.
"""
    (PRETRAINED / f"{name}.md").write_text(card)
    print(card)


if __name__ == "__main__":
    main()
