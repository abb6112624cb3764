"""Peak memory and time of ``console mix`` on 16 stems x 5 minutes at 44.1 kHz.

Writes the stems to a temporary folder, runs ``console mix`` in a child
process and reads its peak resident memory. Run:
``python benchmarks/bench_mix_memory.py [--stems 16] [--minutes 5]``.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stems", type=int, default=16)
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--checkpoint", default=None)
    args = parser.parse_args()
    sr = 44100
    frames = int(args.minutes * 60 * sr)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "stems"
        folder.mkdir()
        rng = np.random.default_rng(0)
        for k in range(args.stems):
            t = np.arange(frames) / sr
            audio = 0.2 * np.sin(2 * np.pi * 55 * (k + 1) * t) + 0.02 * rng.standard_normal(frames)
            sf.write(folder / f"stem{k:02d}.wav", audio.astype(np.float32), sr, subtype="PCM_16")
        stems_mb = args.stems * frames * 4 / 2**20
        cmd = [sys.executable, "-m", "console.cli.main", "mix", str(folder), "-o",
               str(Path(tmp) / "mix.wav"), "-q"]
        if args.checkpoint:
            cmd += ["--checkpoint", args.checkpoint]
        start = time.perf_counter()
        subprocess.run(cmd, check=True)
        wall = time.perf_counter() - start
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"console mix, {args.stems} stems x {args.minutes:g} min at {sr} Hz")
    print(f"  time {wall:.1f} s ({args.minutes * 60 / wall:.1f}x real time)")
    print(f"  peak resident memory {peak_mb:.0f} MB "
          f"(all stems as float32 would be {stems_mb:.0f} MB)")


if __name__ == "__main__":
    main()
