"""Time and peak memory of ``console mix`` on stereo stems against the same count of mono ones.

Writes two folders of 5-minute stems at 44.1 kHz: 16 mono stems, and 8 mono plus 8
stereo stems (the stereo ones with different content on each side). Runs ``console mix``
(the default console unless ``--spec``) on each in a child process, alternating, and
prints each run's wall time and peak resident memory, and the ratios of the medians.
The bound in docs/stereo.rst is under 2 times both. Run::

    python benchmarks/bench_stereo_stems.py --table docs/_tables/stereo-cost.rst
    python benchmarks/bench_stereo_stems.py --minutes 1 --repeats 1 --spec gain+eq:dsp+comp:dsp+pan
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
from bench_long_mix import BLOCK, SR, measure
from tables import markdown_table, rst_list_table


def write_stems(folder: Path, mono: int, stereo: int, frames: int) -> None:
    """Tones and noise a block at a time; a stereo stem has another tone on each side."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for k in range(mono + stereo):
        channels = 2 if k >= mono else 1
        with sf.SoundFile(folder / f"stem{k:02d}.wav", "w", SR, channels, "PCM_16") as f:
            for start in range(0, frames, BLOCK):
                t = np.arange(start, min(frames, start + BLOCK)) / SR
                sides = [0.1 * np.sin(2 * np.pi * 55 * (k + 1 + 0.5 * c) * t)
                         + 0.02 * rng.standard_normal(t.shape[0]) for c in range(channels)]
                f.write(np.stack(sides, 1).astype(np.float32))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--spec", default=None, help="an untrained console for this chain")
    parser.add_argument("--table", type=Path, default=None,
                        help="also write the table here (docs/_tables/stereo-cost.rst)")
    args = parser.parse_args()
    frames = int(args.minutes * 60 * SR)
    console = str(Path(sys.executable).with_name("console"))
    with tempfile.TemporaryDirectory() as tmp:
        folders = {"16 mono": Path(tmp) / "mono", "8 mono + 8 stereo": Path(tmp) / "stereo"}
        write_stems(folders["16 mono"], 16, 0, frames)
        write_stems(folders["8 mono + 8 stereo"], 8, 8, frames)
        runs: dict[str, list[tuple[float, float]]] = {label: [] for label in folders}
        for repeat in range(args.repeats):
            for label, folder in folders.items():
                cmd = [console, "mix", str(folder), "-o", str(Path(tmp) / f"{repeat}.wav"),
                       "-q", "--force"]
                if args.spec:
                    cmd += ["--untrained", "--spec", args.spec]
                runs[label].append(measure(cmd))
                wall, peak = runs[label][-1]
                print(f"{label}: {wall:.1f} s, {peak:.0f} MB", flush=True)
    spec = args.spec or "default console (shipped gain+pan)"
    print(f"\nconsole mix, {spec}, 16 stems x {args.minutes:g} min at 44.1 kHz, "
          f"median of {args.repeats}:")
    medians = {label: (statistics.median(w for w, _ in r), statistics.median(m for _, m in r))
               for label, r in runs.items()}
    rows = [[label, f"{wall:.1f}", f"{peak:.0f}"] for label, (wall, peak) in medians.items()]
    (mono_wall, mono_peak), (st_wall, st_peak) = medians.values()
    rows.append(["stereo / mono", f"{st_wall / mono_wall:.2f}", f"{st_peak / mono_peak:.2f}"])
    header = ["stems", "wall s", "peak MB"]
    print(markdown_table(header, rows))
    if args.table:
        args.table.write_text(rst_list_table(header, rows))
        print(f"wrote {args.table}")


if __name__ == "__main__":
    main()
