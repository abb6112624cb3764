"""Can a console's encoder recognise what the engineer's decisions depend on, across sources?

Training a console with its mix loss takes hours on a CPU; this probe asks a
cheaper, narrower question in minutes. Every track of every training and
validation song is encoded once (whole tracks, at the loudness the console's
encoder hears them), and a post-processor is fitted to the engineer's
decisions alone (each track's level relative to its song, in dB, and its
distance from the centre), then scored on the validation sources, which
sound different. Same architectures as the console, no mix loss: an encoder
whose probe cannot get close to the role-rule baseline cannot teach a console
the conventions either; one that can shows what supervision could reach.

Encoders: ``told-roles`` (a one-hot of the role: the upper reference),
``mel-stats`` (its log-mel statistics through the same MLP, trained), and
``musicnn`` (the frozen penultimate layer of the MSD tagger, on each track's
middle 3 s; the others hear whole tracks).
Post-processors: ``mlp`` (the paper's, with the song's mean as context) and
``set`` (tracks attend to each other).

Run from the repository root after ``benchmarks/bench_generalisation.py --make-data``::

    python scripts/probe_decisions.py --out out/diag/probe.md
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from torch import nn

from console.chain import EffectChain
from console.data import scan_folder
from console.data.reference_decisions import reference_settings
from console.decisions import input_trim_db
from console.evaluation.role_rules import role_rule_settings
from console.evaluation.songs import load_song, usable_songs
from console.post_processor import create_post_processor
from console.training.mixing_task import relative_level_error
from console_encoders.log_mel import LogMelExamples
from console_encoders.mel_stats import log_mel_statistics
from console_encoders.told_roles import ROLE_VOCABULARY

RATE = 22050


def encode_songs(folders: list[Path], encoders: list[str], cache: Path) -> list[dict]:
    """Per song: features of each encoder ``(K, D)``, roles, targets; cached on disk."""
    if cache.is_file():
        songs = torch.load(cache, weights_only=False)
        if all(all(e in s["features"] for e in encoders) for s in songs):
            return songs
    frontend = LogMelExamples()
    musicnn = None
    if "musicnn" in encoders:
        from console.plugins import get_plugins

        musicnn = get_plugins().resolve("encoder", "musicnn").create().eval()
    out = []
    found = usable_songs([s for f in folders for s in scan_folder(f)], RATE)
    for i, song in enumerate(found):
        targets = reference_settings(song, EffectChain.from_spec("gain+pan").layout)
        if targets is None:
            continue
        loaded = load_song(song, RATE)
        stems = loaded.stems
        trim = input_trim_db(stems, RATE)
        heard = stems * torch.pow(10.0, trim / 20.0)[:, None]
        features = {}
        with torch.no_grad():
            features["mel-stats"] = log_mel_statistics(frontend.frames(heard, RATE))
            if musicnn is not None:  # the middle 3 s (one patch): the tagger is slow on a CPU
                middle = max(0, (heard.shape[-1] - 3 * RATE) // 2)
                features["musicnn"] = musicnn(heard[:, middle:middle + 3 * RATE], RATE)
        roles = list(song.roles)
        features["told-roles"] = nn.functional.one_hot(
            torch.tensor([ROLE_VOCABULARY.index(r) if r in ROLE_VOCABULARY else
                          ROLE_VOCABULARY.index("other") for r in roles]),
            len(ROLE_VOCABULARY)).float()
        lufs = -27.0 - trim  # input_trim_db brings each track to -27 LUFS
        gains = targets[:, 0]
        told = role_rule_settings(stems, song.stem_names, roles, RATE)
        out.append({
            "name": song.name, "source": song.stems[0].parents[2].name, "roles": roles,
            "features": features, "trim": trim, "lufs": lufs, "gains": gains,
            "pans": targets[:, 1], "told": told,
        })
        print(f"\rencoded {i + 1}/{len(found)} songs", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    cache.parent.mkdir(parents=True, exist_ok=True)
    torch.save(out, cache)
    return out


class Probe(nn.Module):
    """Encoder head (an MLP on mel-stats' statistics, else identity) and a post-processor."""

    def __init__(
        self, encoder: str, dim: int, post: str, hidden: int = 128, dropout: float = 0.0
    ) -> None:
        super().__init__()
        if encoder == "mel-stats":
            self.head = nn.Sequential(nn.BatchNorm1d(dim, affine=False), nn.Linear(dim, hidden),
                                      nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, hidden),
                                      nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, 128),
                                      nn.ReLU())
            dim = 128
        else:
            self.head = nn.Identity()
        self.post = create_post_processor(post, dim, 2, hidden)

    def forward(self, features, batch_index, batch_size):
        out = self.post(self.head(features), batch_index, batch_size)
        deviation = (2 * out[:, 0] - 1) * 24.0
        width = (2 * out[:, 1] - 1).abs()
        return deviation, width


def batch(songs: list[dict], encoder: str):
    feats = torch.cat([s["features"][encoder] for s in songs])
    index = torch.cat([torch.full((len(s["roles"]),), b) for b, s in enumerate(songs)])
    return feats, index


def scores(probe, songs, encoder) -> dict[str, float]:
    probe.eval()
    levels, pans = [], []
    with torch.no_grad():
        feats, index = batch(songs, encoder)
        deviation, width = probe(feats, index, len(songs))
    start = 0
    for s in songs:
        k = len(s["roles"])
        gains = s["trim"] + deviation[start:start + k]
        mask = torch.isfinite(s["lufs"])[None]
        levels.append(float(relative_level_error(gains[None], s["gains"][None], mask)))
        pans.append(float((width[start:start + k] - s["pans"].abs()).abs().mean()))
        start += k
    return {"level": sum(levels) / len(levels), "pan": sum(pans) / len(pans)}


def fit(songs, encoder, post, steps, seed, batch_songs=16, dropout=0.0):
    torch.manual_seed(seed)
    dim = songs[0]["features"][encoder].shape[1]
    probe = Probe(encoder, dim, post, dropout=dropout)
    optimiser = torch.optim.AdamW(probe.parameters(), lr=1e-3, weight_decay=1e-2)
    generator = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        probe.train()
        picked = [songs[int(i)] for i in torch.randperm(len(songs), generator=generator)[
            :batch_songs]]
        feats, index = batch(picked, encoder)
        deviation, width = probe(feats, index, len(picked))
        loss, start = 0.0, 0
        for s in picked:
            k = len(s["roles"])
            mask = torch.isfinite(s["lufs"])[None]
            level = relative_level_error((s["trim"] + deviation[start:start + k])[None],
                                         s["gains"][None], mask)
            pan = (width[start:start + k] - s["pans"].abs()).abs().mean()
            loss = loss + (0.0 if level is None else level / 6.0) + pan
            start += k
        optimiser.zero_grad()
        (loss / len(picked)).backward()
        optimiser.step()
    return probe


def baseline_scores(songs) -> dict[str, dict[str, float]]:
    rows = {"loudness": ([], []), "role rules (told roles)": ([], [])}
    for s in songs:
        mask = torch.isfinite(s["lufs"])[None]
        for label, gains, width in (
            ("loudness", s["trim"], torch.zeros(len(s["roles"]))),
            ("role rules (told roles)", s["told"][:, 0], s["told"][:, 1].abs()),
        ):
            rows[label][0].append(float(relative_level_error(gains[None], s["gains"][None],
                                                             mask)))
            rows[label][1].append(float((width - s["pans"].abs()).abs().mean()))
    return {k: {"level": sum(v[0]) / len(v[0]), "pan": sum(v[1]) / len(v[1])}
            for k, v in rows.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("out/loso"))
    parser.add_argument("--encoders", nargs="+", default=["told-roles", "mel-stats", "musicnn"])
    parser.add_argument("--post", nargs="+", default=["mlp", "set"])
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--cache", type=Path, default=Path("out/diag/probe"),
                        help="where the encoded songs are kept (PREFIX-train.pt, PREFIX-val.pt)")
    parser.add_argument("--dropout", type=float, default=0.0,
                        help="dropout between the mel-stats head's layers")
    args = parser.parse_args()
    torch.set_num_threads(1)
    train = encode_songs(sorted((args.data / "train").iterdir()), args.encoders,
                         Path(f"{args.cache}-train.pt"))
    val = encode_songs(sorted((args.data / "val").iterdir()), args.encoders,
                       Path(f"{args.cache}-val.pt"))
    lines = [f"# Decision probe: {len(train)} training songs, {len(val)} validation songs "
             f"({args.steps} steps, seed {args.seed}, mel-stats dropout {args.dropout:g})", "",
             "Level error (dB, relative to the song) and pan error (distance from the "
             "centre) against the engineer, on the validation sources.", "",
             "| system | level err (train) | level err (val) | pan err (train) | pan err (val) |",
             "|---|---|---|---|---|"]
    for label, row in baseline_scores(val).items():
        tr = baseline_scores(train)[label]
        lines.append(f"| {label} | {tr['level']:.2f} | {row['level']:.2f} | "
                     f"{tr['pan']:.3f} | {row['pan']:.3f} |")
    for encoder in args.encoders:
        for post in args.post:
            probe = fit(train, encoder, post, args.steps, args.seed, dropout=args.dropout)
            tr, va = scores(probe, train, encoder), scores(probe, val, encoder)
            lines.append(f"| {encoder} + {post} | {tr['level']:.2f} | {va['level']:.2f} | "
                         f"{tr['pan']:.3f} | {va['pan']:.3f} |")
            print(lines[-1], file=sys.stderr)
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
