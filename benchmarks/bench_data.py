"""Batches per second from the plain-folder loader, 8 stems x 5 s at 44.1 kHz.

Writes its own temporary songs (noise stems, 16-bit WAV), then times the
DataLoader with 0 and 2 workers. Run: ``python benchmarks/bench_data.py``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from console.data import MultitrackDataset, make_loader, scan_folder

SR = 44100
STEMS = 8


def write_songs(root: Path, songs: int, seconds: float) -> None:
    rng = np.random.default_rng(0)
    frames = int(seconds * SR)
    for s in range(songs):
        stems = root / f"song{s:02d}" / "stems"
        stems.mkdir(parents=True)
        for k in range(STEMS):
            audio = 0.1 * rng.standard_normal(frames).astype(np.float32)
            sf.write(stems / f"track{k}.wav", audio, SR, subtype="PCM_16")
        mix = 0.1 * rng.standard_normal((frames, 2)).astype(np.float32)
        sf.write(root / f"song{s:02d}" / "mix.wav", mix, SR, subtype="PCM_16")


def batches_per_second(dataset: MultitrackDataset, batch_size: int, workers: int) -> float:
    loader = make_loader(dataset, batch_size=batch_size, num_workers=workers, seed=0)
    iterator = iter(loader)
    next(iterator)  # worker start-up and first reads are not part of the rate
    start = time.perf_counter()
    count = 0
    for _ in iterator:
        count += 1
    return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--songs", type=int, default=6)
    parser.add_argument("--song-seconds", type=float, default=30.0)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--batches", type=int, default=25)
    parser.add_argument("--stem-lufs", type=float, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_songs(root, args.songs, args.song_seconds)
        dataset = MultitrackDataset(
            scan_folder(root), sample_rate=SR, segment_seconds=5.0,
            examples_per_epoch=args.batch_size * (args.batches + 1), stem_lufs=args.stem_lufs,
        )
        print(f"{args.songs} songs, {STEMS} stems x 5 s at {SR} Hz, batch {args.batch_size}, "
              f"stem_lufs={args.stem_lufs}")
        for workers in (0, 2):
            rate = batches_per_second(dataset, args.batch_size, workers)
            print(f"workers={workers}: {rate:.1f} batches/s ({rate * args.batch_size:.1f} songs/s)")


if __name__ == "__main__":
    main()
