"""How well consoles mix recordings from a source they never heard, next to simple rules.

Leave-one-source-out: sessions are generated per recorded source (see
``console make-sessions --source``); consoles train on some sources, their
choices (architecture, steps, which run ships) are made on *validation*
sources, and the final figures come from *test* sources touched once (round 4:
opl3 and exadrums; see ``SPLITS``). Every system mixes every whole song of the
split; the reference is the engineer's mix of that song (with its EQ,
compression and reverb).

Systems, each labelled by what it renders:

* ``mono``: every stem at unity gain, centred (the registered ``mono`` mixer);
* ``random``: gain drawn in ±12 dB and pan in [-1, 1] per stem (registered ``random``);
* ``loudness``: every stem at equal loudness, centred (registered ``loudness``);
* ``role rules (told roles)``: the engineer's plain rules for each stem's role (its
  loudness and conventional pan; no per-song style, no per-track taste) through
  ``gain+pan``; it is *told* every stem's role, so it is the target a console that has
  to recognise the roles should approach (:mod:`console.evaluation.role_rules`);
* ``engineer faders+pans, dry``: the engineer's own gains and pans through ``gain+pan``,
  without the engineer's EQ, compression and reverb. Not a bound: the reference carries
  those effects, so a console can beat it on the audio metrics (earlier rounds called it
  "oracle gain+pan");
* consoles: a checkpoint or a shipped console, through its own chain.

Metrics (lower is better except where said): ``stereo`` is the sum and difference
MR-STFT distance at equal loudness (the paper's objective, FFT 512/2048/8192);
``mid`` is its L+R part alone (level balance and spectrum, blind to the image);
``level`` is the mean absolute error in dB of each track's level relative to the
song's other tracks, against the engineer's; ``pan err`` the mean absolute
difference of each track's pan from the engineer's, or from its mirror image
where that is closer (engineers pan from either side); ``pan`` is the mean
signed pan position (0 is no side preference) and the shares of panned tracks
(|pan| >= 0.1) left and right.

Run from the repository root (``--make-data`` writes the sessions first: the
sources of ``DATA_PLAN``, 10 s songs at 22050 Hz, about 25 minutes; ``--limit 0``
writes them and scores nothing)::

    python benchmarks/bench_generalisation.py --make-data --split validation \\
        --systems melstats=out/loso/runs/melstats-gen/best.pt gain+pan
    python benchmarks/bench_generalisation.py --split test --final --systems ...

``--split test`` refuses to run without ``--final`` and records each use in
``DATA/test-uses.log``, so a test figure is one that was looked at once.

Songs with stereo stems (docs/stereo.rst): ``--make-data --stereo`` writes the validation
songs of the SoundFont validation sources again with their cymbal, keys, pad and strings
parts recorded in stereo, and ``--split validation-stereo`` scores them; the gain+pan
baselines keep stereo stems stereo, ``mono`` and ``loudness`` mix them folded to mono,
and a table of the stereo tracks' level and balance errors is added::

    python benchmarks/bench_generalisation.py --make-data --stereo --split validation-stereo \
        --systems gain+pan gain+eq:dsp+comp:dsp+reverb:dsp+pan
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import sys
from pathlib import Path

import torch

from console.chain import EffectChain
from console.data import scan_folder
from console.data.loudness import track_loudness
from console.data.reference_decisions import reference_settings
from console.evaluation.normalise import to_comparison_loudness
from console.evaluation.role_rules import role_rule_settings
from console.evaluation.songs import load_song, usable_songs
from console.evaluation.systems import load_system
from console.losses.stereo import StereoSTFTLoss
from console.mixer import create_mixer
from console.streaming import stream_mix

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "out" / "loso"
#: Which sources each split holds (folders under DATA/sessions); fixed before any training.
# Round 1 tested on avldrums, round 2 on freepats, round 3 on lmms; each was scored once
# per shipped console (see benchmarks/results/loso-test-uses.log) and then, used up, left
# the test split: avldrums joined training, freepats and lmms joined validation (round 2's
# shipped default lost to equal loudness on freepats's drum kits, so later rounds' choices
# are judged there too). Round 4 tests on two sources no earlier run had heard: opl3 (a
# General MIDI set of the OPL3 chip's FM sounds, synthesised: a timbre no training source
# has) and exadrums (one recorded acoustic kit, drums only).
SPLITS = {
    "train": ("fluidr3", "musescore", "sonic-pi", "procedural", "avldrums"),
    "validation": ("timgm6mb", "freepats", "lmms"),
    "test": ("opl3", "exadrums"),
}
#: How many songs each source gets, from which seed (10 s each at 22050 Hz); the seeds
#: are far apart, so no two sources share a song.
DATA_PLAN = {
    "fluidr3": (60, 100_000), "musescore": (40, 200_000), "sonic-pi": (50, 300_000),
    "procedural": (50, 400_000), "timgm6mb": (30, 500_000), "avldrums": (60, 600_000),
    "freepats": (40, 700_000), "lmms": (40, 800_000), "opl3": (40, 900_000),
    "exadrums": (40, 1_000_000),
}
#: Round 3 tried training on the same songs with every stem coloured by a random bass
#: and treble shelf (``console make-sessions --colour``; ``--make-data --colour`` writes
#: them to DATA/sessions-colour, linked from DATA/train-colour); it did not help on
#: validation. Validation and test songs are never coloured: they are what the source plays.
TRAIN_COLOUR_DB = 8.0
SECONDS = 10.0
PANNED = 0.1
ROLE_RULES = "role rules (told roles)"
ENGINEER_DRY = "engineer faders+pans, dry"
BASELINES = ("mono", "random", "loudness", ROLE_RULES, ENGINEER_DRY)


def relative_levels(stems: torch.Tensor, gains_db: torch.Tensor, rate: int,
                    stereo: torch.Tensor | None = None) -> torch.Tensor:
    """Each track's post-fader loudness minus the song's mean (silent tracks are NaN).

    ``stems`` are mono ``(K, T)``, or ``(K, 2, T)`` with ``stereo`` marking stereo tracks.
    """
    levels = track_loudness(stems, rate, stereo) + gains_db
    levels = torch.where(torch.isfinite(levels), levels, torch.full_like(levels, math.nan))
    return levels - levels.nanmean()


def pan_error(pans: torch.Tensor, reference: torch.Tensor) -> float:
    """Mean absolute pan difference from the engineer's, the better of the field and its mirror.

    Engineers pan drums from the audience's or the drummer's side, so a mix
    that is the engineer's mirrored is as good as the engineer's own.
    """
    return float(torch.minimum((pans - reference).abs().mean(), (pans + reference).abs().mean()))


def score_song(song, mixes, settings, reference_settings, rate, losses) -> dict:
    """Every metric of every system on one song."""
    stereo, mid = losses
    reference = to_comparison_loudness(song.mix, rate)[None]
    tracks = song.as_recorded
    ref_levels = relative_levels(tracks, reference_settings[:, 0], rate, song.stereo)
    rows = {}
    for label, mix in mixes.items():
        a = to_comparison_loudness(mix, rate)[None]
        gains, pans = settings[label][:, 0], settings[label][:, 1]
        levels = relative_levels(tracks, gains, rate, song.stereo)
        level = (levels - ref_levels).abs().nanmean()
        rows[label] = {
            "stereo": float(stereo(a, reference)),
            "mid": float(mid(a, reference)),
            "level": float(level),
            "pan_err": pan_error(pans, reference_settings[:, 1]),
            "pans": pans.tolist(),
            "levels": levels.tolist(),
            "track_level_err": (levels - ref_levels).abs().tolist(),
            "track_pan_err": (pans - reference_settings[:, 1]).abs().tolist(),
        }
    return rows


def mix_song(song, systems, rate, seed, roles, engineer_name="default"):
    """Mixes ``(2, T)`` and ``(K, 2)`` gain/pan settings of every system for one song."""
    gain_pan = EffectChain.from_spec("gain+pan")
    faders = reference_settings(song.song, gain_pan.layout)  # the engineer's, in stem order
    k = song.stems.shape[0]
    tracks, stereo = song.as_recorded, song.stereo  # gain and pan keep a stereo stem's image
    mixes, settings = {}, {}
    with torch.no_grad():
        mixes["mono"] = create_mixer("mono")(song.stems[None], None, rate)[0]
        settings["mono"] = torch.zeros(k, 2)
        randomiser = create_mixer("random", seed=seed)
        drawn = randomiser.draw(k)
        mixes["random"] = gain_pan(tracks, drawn, rate, stereo).sum(0)
        settings["random"] = drawn
        loud = create_mixer("loudness")
        gains = loud.gains_db(song.stems[None], torch.ones(1, k, dtype=torch.bool), rate)[0]
        mixes["loudness"] = loud(song.stems[None], None, rate)[0]
        settings["loudness"] = torch.stack([gains.float(), torch.zeros(k)], -1)
        told = role_rule_settings(tracks, song.song.stem_names, roles, rate,
                                  engineer_name, stereo)
        mixes[ROLE_RULES] = gain_pan(tracks, told, rate, stereo).sum(0)
        settings[ROLE_RULES] = told
        mixes[ENGINEER_DRY] = gain_pan(tracks, faders, rate, stereo).sum(0)
        settings[ENGINEER_DRY] = faders
        for label, system in systems.items():
            if hasattr(system.model.encoder, "tell"):  # a diagnostic console told the roles
                system.model.encoder.tell(roles)
            mix, physical = stream_mix(system.model.eval(), song.song.stems, rate)
            frames = song.mix.shape[-1]
            mixes[label] = torch.nn.functional.pad(mix[:, :frames],
                                                   (0, max(0, frames - mix.shape[-1])))
            layout = system.model.layout
            g = next(s.index for s in layout if s.effect_key == "gain")
            p = next(s.index for s in layout if s.effect_key == "pan")
            settings[label] = physical[:, [g, p]]
    return mixes, settings, faders


def summarise(per_song: list[dict], labels: list[str]) -> dict[str, dict[str, float]]:
    table = {}
    for label in labels:
        rows = [song[label] for song in per_song]
        pans = torch.tensor([p for r in rows for p in r["pans"]])
        panned = pans[pans.abs() >= PANNED]
        table[label] = {
            "stereo": sum(r["stereo"] for r in rows) / len(rows),
            "mid": sum(r["mid"] for r in rows) / len(rows),
            "level": sum(r["level"] for r in rows) / len(rows),
            "pan_err": sum(r["pan_err"] for r in rows) / len(rows),
            "mean_pan": float(pans.mean()),
            "left": float((panned < 0).float().mean()) if len(panned) else math.nan,
            "right": float((panned > 0).float().mean()) if len(panned) else math.nan,
            "panned": float(len(panned) / max(1, len(pans))),
        }
    return table


def _session(song) -> dict:
    path = song.mix.parent / "session.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def song_kind(song) -> str:
    """``band`` or ``drums`` (a kit recorded piece by piece), from the session's metadata."""
    return str(_session(song).get("kind", "unknown"))


def song_engineer(song) -> str:
    """Whose rules mixed the song (``default`` unless its ``session.json`` names another)."""
    return str(_session(song).get("engineer_name", "default"))


def song_roles(song) -> list[str]:
    """The role of each stem, in the song's stem order (``?`` where unrecorded)."""
    roles = {t.get("name"): t.get("role", "?") for t in _session(song).get("tracks", [])}
    return [roles.get(name, "?") for name in song.stem_names]


def pans_by_role(per_song: list[dict], roles: list[list[str]],
                 labels: list[str]) -> dict[str, dict[str, float]]:
    """Mean distance from the centre of each role's tracks, per system (and ``tracks``)."""
    distances: dict[str, dict[str, list[float]]] = {}
    for song, song_roles_ in zip(per_song, roles, strict=True):
        for label in labels:
            for role, pan in zip(song_roles_, song[label]["pans"], strict=True):
                distances.setdefault(role, {}).setdefault(label, []).append(abs(pan))
    return {role: {"tracks": len(by[labels[0]]),
                   **{label: sum(by[label]) / len(by[label]) for label in labels}}
            for role, by in sorted(distances.items())}


def levels_by_role(per_song: list[dict], roles: list[list[str]],
                   labels: list[str]) -> dict[str, dict[str, float]]:
    """Mean deviation from equal loudness (dB) of each role's tracks, per system.

    A track's deviation is its post-fader loudness minus its song's mean: what equal
    loudness sets to 0 for every track. Silent tracks are left out.
    """
    levels: dict[str, dict[str, list[float]]] = {}
    for song, song_roles_ in zip(per_song, roles, strict=True):
        for label in labels:
            for role, level in zip(song_roles_, song[label]["levels"], strict=True):
                if math.isfinite(level):
                    levels.setdefault(role, {}).setdefault(label, []).append(level)
    return {role: {"tracks": len(by[labels[0]]),
                   **{label: sum(by[label]) / len(by[label]) for label in labels}}
            for role, by in sorted(levels.items())}


def stereo_tracks(per_song: list[dict], stereo: list[list[bool]],
                  labels: list[str]) -> dict[str, dict[str, float]]:
    """Mean level error (dB) and balance error of the stereo tracks, per system.

    Against the engineer's, who keeps a stereo stem's recorded image (a balance near
    the centre); empty when no song has a stereo stem.
    """
    table = {}
    for metric, key in (("level err dB", "track_level_err"), ("balance err", "track_pan_err")):
        values: dict[str, list[float]] = {label: [] for label in labels}
        for song, flags in zip(per_song, stereo, strict=True):
            for label in labels:
                values[label] += [e for e, wide in zip(song[label][key], flags, strict=True)
                                  if wide and math.isfinite(e)]
        count = len(values[labels[0]])
        if count:
            table[metric] = {"tracks": count,
                             **{label: sum(v) / len(v) for label, v in values.items()}}
    return table


def roles_markdown(table: dict[str, dict[str, float]], labels: list[str],
                   title: str = "Mean |pan| by role (0 is centre, 1 is hard left or right).",
                   digits: str = ".2f", key: str = "role") -> str:
    lines = [title, "",
             f"| {key} | tracks | " + " | ".join(labels) + " |",
             "|---|---|" + "---|" * len(labels)]
    for role, row in table.items():
        lines.append(f"| {role} | {row['tracks']} | "
                     + " | ".join(f"{row[label]:{digits}}" for label in labels) + " |")
    return "\n".join(lines)


def roles_rst(table: dict[str, dict[str, float]], labels: list[str],
              digits: str = ".2f", key: str = "role") -> str:
    lines = [".. list-table::", "   :header-rows: 1", "", f"   * - {key}", "     - tracks",
             *[f"     - {label}" for label in labels]]
    for role, row in table.items():
        lines += [f"   * - {role}", f"     - {row['tracks']}",
                  *[f"     - {row[label]:{digits}}" for label in labels]]
    return "\n".join(lines) + "\n"


def markdown(table: dict[str, dict[str, float]], split: str, songs: int,
             kind: str | None = None, sources: tuple[str, ...] | None = None) -> str:
    which = f"its {songs} {kind} songs" if kind else f"{songs} whole songs"
    lines = [
        f"Split `{split}` ({', '.join(sources or SPLITS[split])}), {which}.",
        "",
        "| system | stereo | mid (L+R) | level err dB | pan err | mean pan | panned L / R |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, row in table.items():
        sides = ("—" if math.isnan(row["left"]) else
                 f"{100 * row['left']:.0f} % / {100 * row['right']:.0f} %")
        lines.append(
            f"| {label} | {row['stereo']:.3f} | {row['mid']:.3f} | {row['level']:.2f} | "
            f"{row['pan_err']:.3f} | {row['mean_pan']:+.3f} | {sides} |"
        )
    return "\n".join(lines)


#: More songs from the training sources, with other seeds (round 4): set ``n`` (1, 2, ...)
#: draws each training source's songs again from its seed plus ``EXTRA_SEED_OFFSETS[n - 1]``
#: into DATA/sessions-extra (then -extra2, ...); DATA/train2 links the first set and one
#: more, DATA/train3 two more.
EXTRA_SEED_OFFSETS = (50_000, 70_000)


def extra_sessions(n: int) -> str:
    """The folder of the ``n``-th extra set of training songs (1 -> ``sessions-extra``)."""
    return "sessions-extra" if n == 1 else f"sessions-extra{n}"


#: The validation sources that can record stereo stems (SoundFonts), and where their
#: stereo songs go: the same songs as their mono ones (same seeds), with every cymbal,
#: keys, pad and strings part recorded in stereo (``make-sessions --stereo 1``).
STEREO_SOURCES = ("timgm6mb",)
STEREO_SESSIONS = "sessions-stereo"


def make_data(root: Path, sample_rate: int = 22050, colour: bool = False,
              extra_sets: int = 0, stereo: bool = False) -> None:
    """Write every source's sessions (skipping those already there) and the split folders.

    ``root/train`` and ``root/val`` hold links to the sources of each split, so
    ``console train --data root/train --val-data root/val`` trains and validates on them;
    with ``colour``, ``root/train-colour`` links coloured copies of the training songs;
    with ``extra_sets`` N, ``root/train{N+1}`` links the training songs and N more sets of
    them (``EXTRA_SEED_OFFSETS``); with ``stereo``, ``root/sessions-stereo`` holds the
    stereo songs of :data:`STEREO_SOURCES` (``--split validation-stereo`` scores them).
    """
    import subprocess

    if extra_sets > len(EXTRA_SEED_OFFSETS):
        raise SystemExit(f"at most {len(EXTRA_SEED_OFFSETS)} extra sets of training songs")
    jobs = [(root / "sessions" / source, source, 0.0, 0, False) for source in DATA_PLAN]
    if stereo:
        jobs += [(root / STEREO_SESSIONS / source, source, 0.0, 0, True)
                 for source in STEREO_SOURCES]
    if colour:
        jobs += [(root / "sessions-colour" / source, source, TRAIN_COLOUR_DB, 0, False)
                 for source in SPLITS["train"]]
    for n in range(1, extra_sets + 1):
        jobs += [(root / extra_sessions(n) / source, source, 0.0, EXTRA_SEED_OFFSETS[n - 1],
                  False) for source in SPLITS["train"]]
    for out, source, colour, offset, wide in jobs:
        count, seed = DATA_PLAN[source]
        # make-sessions skips a seed the source cannot play, so a finished set may hold
        # fewer songs than asked for: the marker says it finished
        if (out / f"song_{count - 1:04d}" / "session.json").is_file() or \
                (out / ".complete").is_file():
            continue
        subprocess.run(
            [sys.executable, "-m", "console.cli.main", "make-sessions", str(out), "--source",
             source, "--n", str(count), "--seed", str(seed + offset), "--duration",
             str(SECONDS), "--sample-rate", str(sample_rate), "--colour", str(colour),
             *(["--stereo", "1"] if wide else [])],
            check=True,
        )
        (out / ".complete").touch()
    links = [("train", "train", "sessions", ""), ("validation", "val", "sessions", "")]
    if colour:
        links.append(("train", "train-colour", "sessions-colour", ""))
    if extra_sets:
        folder = f"train{extra_sets + 1}"
        links.append(("train", folder, "sessions", ""))
        links += [("train", folder, extra_sessions(n), "-" + extra_sessions(n)[9:])
                  for n in range(1, extra_sets + 1)]
    for split, folder, sessions, suffix in links:
        (root / folder).mkdir(parents=True, exist_ok=True)
        for source in SPLITS[split]:
            link = root / folder / f"{source}{suffix}"
            if not link.is_symlink() and not link.exists():
                link.symlink_to(Path("..") / sessions / source)


def rst(table: dict[str, dict[str, float]]) -> str:
    """The same table as a reStructuredText list-table, for the docs."""
    lines = [".. list-table::", "   :header-rows: 1", "",
             "   * - system", "     - stereo", "     - mid (L+R)", "     - level err (dB)",
             "     - pan err", "     - mean pan", "     - panned L / R"]
    for label, row in table.items():
        sides = ("—" if math.isnan(row["left"]) else
                 f"{100 * row['left']:.0f} % / {100 * row['right']:.0f} %")
        lines += [f"   * - {label}", f"     - {row['stereo']:.3f}", f"     - {row['mid']:.3f}",
                  f"     - {row['level']:.2f}", f"     - {row['pan_err']:.3f}",
                  f"     - {row['mean_pan']:+.3f}",
                  f"     - {sides}"]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", choices=("validation", "validation-stereo", "test"),
                        default="validation",
                        help="validation-stereo: the validation songs of the SoundFont "
                        "sources again, with stereo stems (--make-data --stereo writes them)")
    parser.add_argument("--final", action="store_true",
                        help="allow the test split (its one use is logged)")
    parser.add_argument("--systems", nargs="*", default=[],
                        help="consoles as label=checkpoint, a checkpoint, or a shipped name")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--songs", type=Path, default=None,
                        help="score every song under this folder instead of a split (e.g. "
                        "one engineer's held-out songs); no source of the plan is touched")
    parser.add_argument("--sample-rate", type=int, default=22050)
    parser.add_argument("--limit", type=int, default=None, help="first N songs only")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random baseline")
    parser.add_argument("--out", type=Path, default=None, help="write the table and JSON here")
    parser.add_argument("--make-data", action="store_true",
                        help="first write the sessions of every source (skips existing ones)")
    parser.add_argument("--colour", action="store_true",
                        help="with --make-data, also write the coloured training songs")
    parser.add_argument("--stereo", action="store_true",
                        help="with --make-data, also write the stereo validation songs")
    parser.add_argument("--extra-sets", type=int, default=0,
                        help="with --make-data, also write this many more sets of training "
                        "songs (other seeds) and link them with the first from DATA/trainN")
    args = parser.parse_args()
    if args.make_data:
        make_data(args.data, args.sample_rate, colour=args.colour, extra_sets=args.extra_sets,
                  stereo=args.stereo)
    if args.songs is not None:
        split, sources = "songs", (str(args.songs),)
        songs = scan_folder(args.songs)
    elif args.split == "validation-stereo":
        split, sources = args.split, STEREO_SOURCES
        songs = [s for source in sources
                 for s in scan_folder(args.data / STEREO_SESSIONS / source)]
    else:
        split, sources = args.split, SPLITS[args.split]
        songs = [s for source in sources for s in scan_folder(args.data / "sessions" / source)]
    if split == "test":
        if not args.final:
            sys.exit("The test split is for the final figures: pass --final (its use is logged).")
        with open(args.data / "test-uses.log", "a", encoding="utf-8") as log:
            log.write(f"{datetime.datetime.now().isoformat()} {' '.join(sys.argv[1:])}\n")
    songs = usable_songs(songs, args.sample_rate)[: args.limit]
    if not songs:
        print(f"No songs to score in the {split} split"
              + (" (--limit 0)." if args.limit == 0 else "."), file=sys.stderr)
        return
    systems = {}
    for text in args.systems:
        system = load_system(text)
        systems[system.label] = system
    labels = [*systems, *BASELINES]
    losses = (StereoSTFTLoss(), StereoSTFTLoss(w_sum=1.0, w_diff=0.0))  # stereo, mid only
    per_song, kinds = [], [song_kind(song) for song in songs]
    roles_of = [song_roles(song) for song in songs]
    stereo_of = []
    for i, song in enumerate(songs):
        loaded = load_song(song, args.sample_rate)
        stereo_of.append([False] * len(song.stem_names) if loaded.stereo is None
                         else loaded.stereo.tolist())
        mixes, settings, faders = mix_song(loaded, systems, args.sample_rate, args.seed + i,
                                           roles_of[i], song_engineer(song))
        per_song.append(score_song(loaded, mixes, settings, faders, args.sample_rate, losses))
        print(f"\r{i + 1}/{len(songs)} songs", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    table = summarise(per_song, labels)
    text = markdown(table, split, len(songs), sources=sources)
    by_kind = {}
    for kind in sorted(set(kinds)):
        rows = [row for row, k in zip(per_song, kinds, strict=True) if k == kind]
        by_kind[kind] = summarise(rows, labels)
        text += "\n\n" + markdown(by_kind[kind], split, len(rows), kind, sources)
    roles = pans_by_role(per_song, roles_of, labels)
    text += "\n\n" + roles_markdown(roles, labels)
    levels = levels_by_role(per_song, roles_of, labels)
    text += "\n\n" + roles_markdown(
        levels, labels, "Mean deviation from equal loudness by role, dB (the engineer's is "
        f"the row `{ENGINEER_DRY}`).", "+.1f")
    wide = stereo_tracks(per_song, stereo_of, labels)
    if wide:
        text += "\n\n" + roles_markdown(
            wide, labels, "Stereo tracks: level error against the engineer's (dB) and "
            "balance error (the engineer keeps their image).", ".2f", key="metric")
    print(text)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / f"{split}.md").write_text(text + "\n", encoding="utf-8")
        (args.out / f"{split}.rst").write_text(rst(table), encoding="utf-8")
        (args.out / f"{split}-roles.rst").write_text(roles_rst(roles, labels),
                                                         encoding="utf-8")
        (args.out / f"{split}-levels.rst").write_text(
            roles_rst(levels, labels, "+.1f"), encoding="utf-8")
        if wide:
            (args.out / f"{split}-stereo-tracks.rst").write_text(
                roles_rst(wide, labels, key="metric"), encoding="utf-8")
        for kind, kind_table in by_kind.items():
            (args.out / f"{split}-{kind}.rst").write_text(rst(kind_table), encoding="utf-8")
        payload = {"split": split, "sources": sources, "songs": len(songs),
                   "systems": {k: s.source for k, s in systems.items()}, "table": table,
                   "by_kind": by_kind, "pans_by_role": roles, "levels_by_role": levels,
                   "stereo_tracks": wide}
        (args.out / f"{split}.json").write_text(json.dumps(payload, indent=2) + "\n")


if __name__ == "__main__":
    main()
