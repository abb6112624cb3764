"""Peak memory of ``console mix`` (and ``console render``) on long songs.

Writes ``--stems`` stems of ``--minutes`` at 44.1 kHz (16-bit WAV, block by block, so
this script itself stays small) to a temporary folder, runs ``console mix`` on them in a
child process, then ``console render`` of the params file it wrote, and prints each
child's peak resident memory (``ru_maxrss``, read with ``os.wait4``) and time.

The documented bound (docs/cli.rst, "Long songs") is for the default: 16 stems x 30
minutes under 2 GB. Run::

    python benchmarks/bench_long_mix.py                      # 16 stems x 30 min
    python benchmarks/bench_long_mix.py --stems 2 --minutes 5 --spec gain+eq:dsp+pan
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

SR = 44100
BLOCK = 1 << 20


def write_stems(folder: Path, stems: int, frames: int) -> None:
    """Sines and noise, with a quiet and a loud half, written a block at a time."""
    rng = np.random.default_rng(0)
    for k in range(stems):
        with sf.SoundFile(folder / f"stem{k:02d}.wav", "w", SR, 1, "PCM_16") as f:
            for start in range(0, frames, BLOCK):
                t = np.arange(start, min(frames, start + BLOCK)) / SR
                level = np.where(t < frames / SR / 2, 0.05, 0.2)
                audio = level * np.sin(2 * np.pi * 55 * (k + 1) * t)
                audio += 0.02 * rng.standard_normal(t.shape[0])
                f.write(audio.astype(np.float32))


def measure(cmd: list[str]) -> tuple[float, float]:
    """Wall time in seconds and peak resident memory in MB of one child process."""
    start = time.perf_counter()
    child = subprocess.Popen(cmd)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cmd)} failed")
    return wall, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stems", type=int, default=16)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--spec", default=None, help="an untrained console for this chain")
    parser.add_argument("--checkpoint", default=None)
    parser.add_argument("--no-render", action="store_true", help="measure `mix` only")
    args = parser.parse_args()
    frames = int(args.minutes * 60 * SR)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "stems"
        folder.mkdir()
        start = time.perf_counter()
        write_stems(folder, args.stems, frames)
        print(f"wrote {args.stems} stems x {args.minutes:g} min in "
              f"{time.perf_counter() - start:.0f} s")
        console = [sys.executable, "-m", "console.cli.main", "--threads", "1"]
        mix = [*console, "mix", str(folder), "-o", str(Path(tmp) / "mix.wav"), "-q"]
        if args.checkpoint:
            mix += ["--checkpoint", args.checkpoint]
        elif args.spec:
            mix += ["--spec", args.spec, "--untrained"]
        stems_mb = args.stems * frames * 4 / 2**20
        mix_mb = 2 * frames * 4 / 2**20
        print(f"console mix, {args.stems} stems x {args.minutes:g} min at {SR} Hz "
              f"(all stems as float32: {stems_mb:.0f} MB; the stereo mix: {mix_mb:.0f} MB)")
        wall, peak = measure(mix)
        print(f"  mix:    {wall:7.1f} s  ({args.minutes * 60 / wall:5.1f}x real time)  "
              f"peak resident memory {peak:6.0f} MB")
        if not args.no_render:
            render = [*console, "render", str(folder), str(Path(tmp) / "mix.params.json"),
                      "-o", str(Path(tmp) / "render.wav"), "-q"]
            wall, peak = measure(render)
            print(f"  render: {wall:7.1f} s  ({args.minutes * 60 / wall:5.1f}x real time)  "
                  f"peak resident memory {peak:6.0f} MB")


if __name__ == "__main__":
    main()
