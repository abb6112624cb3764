"""Why a console's decisions stay near equal loudness: what the training loss rewards.

On segments of training songs (as ``console train`` draws them), this script
asks four questions and prints the answers as one Markdown report:

1. Does the mix loss prefer the engineer's faders (or the role rules') to
   equal loudness, as trained (raw mixes) and with both mixes brought to one
   loudness (as the benchmark scores them)?
2. How large is the loss's gradient on each fader at equal loudness, and how
   much of it moves every fader together (the mix's overall level, which the
   mix loss punishes and no balance decision fixes) rather than the balance?
3. If each song's faders are fitted to the loss alone (the engineer's
   reference in hand, nothing to generalise), do they move toward the
   engineer's balance, and how far?
4. How much of the engineer's balance is the role (learnable from what a
   track is) and how much the per-song style and per-track taste (noise to a
   console)?

Run from the repository root after ``benchmarks/bench_generalisation.py --make-data``::

    python scripts/diagnose_learning.py --data out/loso/train --songs 40 --out out/diag/loss.md
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np
import torch

from console.chain import EffectChain
from console.data import MultitrackDataset, collate_examples, scan_folder
from console.data.loudness import loudness_batch
from console.data.reference_decisions import reference_settings
from console.decisions import input_trim_db
from console.evaluation.role_rules import role_rule_settings
from console.evaluation.songs import load_song
from console.losses.stereo import StereoSTFTLoss
from console.training.mixing_task import relative_level_error

RATE = 22050


def normalised(mix: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """``mix`` scaled (differentiably) to ``reference``'s RMS: the overall level is taken out."""
    scale = reference.pow(2).mean().sqrt() / mix.pow(2).mean().sqrt().clamp(min=1e-8)
    return mix * scale


def render(chain, stems, gains, pans):
    params = torch.stack([gains, pans], -1)
    return chain(stems, params, RATE).sum(0)[None]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("out/loso/train"))
    parser.add_argument("--songs", type=int, default=40)
    parser.add_argument("--fit-steps", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    songs = scan_folder(args.data)
    rng = np.random.default_rng(args.seed)
    picked = [songs[i] for i in sorted(rng.choice(len(songs), args.songs, replace=False))]
    chain = EffectChain.from_spec("gain+pan")
    data = MultitrackDataset(picked, sample_rate=RATE, segment_seconds=3.0, seed=args.seed,
                             resample=True, targets=chain.layout)
    losses = {"mix loss as trained": StereoSTFTLoss(),
              "mid at one loudness": StereoSTFTLoss(w_sum=1.0, w_diff=0.0)}
    prefer = {name: {"engineer": [], "role rules": []} for name in losses}
    values = {name: {"loudness": [], "engineer": [], "role rules": []} for name in losses}
    common, balance, level_err_fit, level_err_start = [], [], {n: [] for n in losses}, []
    by_role: dict[str, list[float]] = {}
    for i in range(len(picked)):
        example = data[i]
        assert example.song == picked[i].name
        batch = collate_examples([example])
        stems, mix = batch.stems[0], batch.mix
        k = stems.shape[0]
        engineer = batch.targets[0, :, 0]
        pans = batch.targets[0, :, 1].nan_to_num(0.0)
        trim = input_trim_db(stems, RATE)
        # The role rules' faders, set on the segment's loudness like the trim.
        told_gains = role_rule_settings(stems, example.names, example.roles, RATE)[:, 0]
        mask = torch.ones(1, k, dtype=torch.bool)
        level_err_start.append(float(relative_level_error(trim[None], engineer[None], mask)))
        # The engineer's balance over the whole song (a segment may catch a track resting).
        whole = load_song(picked[i], RATE)
        targets = reference_settings(picked[i], chain.layout)
        rel = loudness_batch(whole.stems, RATE) + targets[:, 0]
        rel = rel - rel[torch.isfinite(rel)].mean()
        for role, level in zip(picked[i].roles, rel.tolist(), strict=True):
            if math.isfinite(level):
                by_role.setdefault(role, []).append(level)
        for name, loss_fn in losses.items():
            def prep(m, name=name, mix=mix):
                return m if name == "mix loss as trained" else normalised(m, mix)
            with torch.no_grad():
                scores = {
                    "loudness": float(loss_fn(prep(render(chain, stems, trim, pans)), mix)),
                    "engineer": float(loss_fn(prep(render(chain, stems, engineer, pans)), mix)),
                    "role rules": float(loss_fn(prep(render(chain, stems, told_gains, pans)),
                                                mix)),
                }
            for key, value in scores.items():
                values[name][key].append(value)
            for key in ("engineer", "role rules"):
                prefer[name][key].append(scores[key] < scores["loudness"])
            gains = trim.clone().requires_grad_(True)
            loss_fn(prep(render(chain, stems, gains, pans)), mix).backward()
            grad = gains.grad
            if name == "mix loss as trained":
                common.append(float(grad.mean().abs()))
                balance.append(float((grad - grad.mean()).pow(2).mean().sqrt()))
            fitted = trim.clone().requires_grad_(True)
            optimiser = torch.optim.Adam([fitted], lr=0.5)
            for _ in range(args.fit_steps):
                optimiser.zero_grad()
                loss_fn(prep(render(chain, stems, fitted, pans)), mix).backward()
                optimiser.step()
            level_err_fit[name].append(
                float(relative_level_error(fitted.detach()[None], engineer[None], mask)))
        print(f"\r{i + 1}/{len(picked)} songs", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    everything = [v for levels in by_role.values() for v in levels]
    role_means = {r: float(np.mean(v)) for r, v in by_role.items()}
    within = [v - role_means[r] for r, levels in by_role.items() for v in levels]
    total_var = float(np.var(everything))
    within_var = float(np.var(within))
    lines = [
        f"# What the training loss rewards ({len(picked)} training songs, one 3 s segment "
        f"each, seed {args.seed})", "",
        "## 1. Which faders the loss prefers (pans are the engineer's in every row)", "",
        "| loss | equal loudness | engineer's faders | role rules | songs where the "
        "engineer beats equal loudness | role rules beat it |", "|---|---|---|---|---|---|"]
    for name in losses:
        lines.append(
            f"| {name} | {np.mean(values[name]['loudness']):.3f} | "
            f"{np.mean(values[name]['engineer']):.3f} | {np.mean(values[name]['role rules']):.3f}"
            f" | {100 * np.mean(prefer[name]['engineer']):.0f} % | "
            f"{100 * np.mean(prefer[name]['role rules']):.0f} % |")
    lines += [
        "", "## 2. The loss's gradient on the faders at equal loudness (per dB)", "",
        f"- all faders together (the mix's overall level): mean |mean gradient| "
        f"{np.mean(common):.4f}",
        f"- the balance between tracks: mean RMS of the rest {np.mean(balance):.4f}",
        f"- ratio overall / balance: {np.mean(common) / max(np.mean(balance), 1e-12):.1f}", "",
        "## 3. Faders fitted to each song's loss alone (Adam, "
        f"{args.fit_steps} steps from equal loudness)", "",
        f"- relative level error against the engineer at equal loudness: "
        f"{np.mean(level_err_start):.2f} dB"]
    for name in losses:
        lines.append(f"- after fitting to the {name}: {np.mean(level_err_fit[name]):.2f} dB")
    lines += [
        "", "## 4. Where the engineer's balance comes from", "",
        f"- variance of each track's level relative to its song: {total_var:.1f} dB²",
        f"- of which within a role (style, taste, arrangement): {within_var:.1f} dB² "
        f"({100 * within_var / total_var:.0f} %); between roles: "
        f"{100 * (1 - within_var / total_var):.0f} %",
        "", "| role | tracks | mean level relative to its song (dB) | spread (dB) |",
        "|---|---|---|---|"]
    for role, levels in sorted(by_role.items(), key=lambda kv: -np.mean(kv[1])):
        lines.append(f"| {role} | {len(levels)} | {np.mean(levels):+.1f} | "
                     f"{np.std(levels):.1f} |")
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
