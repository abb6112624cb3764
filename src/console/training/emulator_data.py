"""Training pairs for effect emulators, made on the fly from real audio and a reference.

An example is a short segment built from one to three clips placed at random
times and levels, brought to a random peak level (so a compressor's threshold
meets quiet and loud input alike), processed by the reference effect at
settings drawn uniformly from the ParamSpecs' normalised ranges. Every example
is a function of ``(seed, epoch, index)`` alone, so resumed runs and DataLoader
workers see the same data.

Files are split into train, validation and test by a hash of their name, not
their position, so adding files never moves an old one to another split.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from console.audio import AUDIO_SUFFIXES, read_audio, resample
from console.errors import AudioInputError
from console.params import ParamSpec

Reference = Callable[[np.ndarray, np.ndarray], np.ndarray]
#: Peak level of an example's input, in dBFS.
INPUT_PEAK_DB = (-36.0, -1.0)
#: Of every ten files (by name hash), this many are for validation and for the test.
VALIDATION_TENTHS, TEST_TENTHS = 1, 1


def split_of(path: str | Path) -> str:
    """``"train"``, ``"validation"`` or ``"test"`` for a file, from its name alone."""
    bucket = zlib.crc32(Path(path).name.encode("utf-8")) % 10
    if bucket < TEST_TENTHS:
        return "test"
    if bucket < TEST_TENTHS + VALIDATION_TENTHS:
        return "validation"
    return "train"


def audio_files(folder: str | Path) -> list[Path]:
    """Every audio file under ``folder``, recursively, sorted; hidden files are skipped."""
    folder = Path(folder)
    if not folder.is_dir():
        raise AudioInputError(f"The audio folder {folder} does not exist or is not a folder.")
    files = sorted(
        p for p in folder.rglob("*")
        if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES and not p.name.startswith(".")
    )
    if not files:
        raise AudioInputError(
            f"No audio files under {folder}; give a folder of recordings "
            f"({', '.join(AUDIO_SUFFIXES)})."
        )
    return files


def load_clips(paths: Sequence[str | Path], sample_rate: int) -> list[torch.Tensor]:
    """Files as mono ``(T,)`` clips at ``sample_rate``; silent files are dropped."""
    clips = []
    for path in paths:
        audio, rate = read_audio(path)
        mono = resample(audio.mean(dim=0), rate, sample_rate)
        if float(mono.abs().max()) > 1e-5:
            clips.append(mono.contiguous())
    return clips


class EffectPairDataset(Dataset):
    """``{"x": (1, T), "params": (P,), "y": (C, T)}`` examples for an emulator.

    ``params`` are physical values; ``y`` is ``reference(x, params)``. ``fixed``
    holds some settings at a value instead of drawing them (a reverb trained on
    its wet signal alone: ``{"mix": 1.0}``).
    """

    def __init__(
        self,
        clips: Sequence[torch.Tensor],
        specs: Sequence[ParamSpec],
        reference: Reference,
        segment_samples: int,
        examples_per_epoch: int,
        seed: int = 0,
        fixed: Mapping[str, float] | None = None,
    ) -> None:
        if not clips:
            raise AudioInputError("No usable (non-silent) audio clips to make examples from.")
        self.clips = [c.numpy().astype(np.float32) for c in clips]
        self.specs = tuple(specs)
        self.reference = reference
        self.segment_samples = int(segment_samples)
        self.examples_per_epoch = int(examples_per_epoch)
        self.seed = int(seed)
        self.epoch = 0
        names = [spec.name for spec in self.specs]
        unknown = set(fixed or {}) - set(names)
        if unknown:
            raise ValueError(f"fixed settings {sorted(unknown)} are not among {names}")
        self.fixed = {names.index(name): float(value) for name, value in (fixed or {}).items()}

    def __len__(self) -> int:
        return self.examples_per_epoch

    def set_epoch(self, epoch: int) -> None:
        """Called by the trainer; a fixed dataset (validation, test) keeps epoch 0."""
        self.epoch = int(epoch)

    def segment(self, rng: np.random.Generator) -> np.ndarray:
        """One to three clips at random offsets and levels, at a random peak level."""
        out = np.zeros(self.segment_samples, dtype=np.float32)
        while True:
            for _ in range(int(rng.integers(1, 4))):
                clip = self.clips[int(rng.integers(len(self.clips)))]
                start_in_clip = int(rng.integers(max(1, clip.shape[0] - self.segment_samples // 2)))
                piece = clip[start_in_clip : start_in_clip + self.segment_samples]
                at = int(rng.integers(0, self.segment_samples // 2))
                piece = piece[: self.segment_samples - at]
                out[at : at + piece.shape[0]] += piece * 10.0 ** (rng.uniform(-12.0, 0.0) / 20.0)
            peak = float(np.abs(out).max())
            if peak > 1e-5:
                return out * (10.0 ** (rng.uniform(*INPUT_PEAK_DB) / 20.0) / peak)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        rng = np.random.default_rng([self.seed, self.epoch, int(index)])
        x = self.segment(rng)
        generator = torch.Generator().manual_seed(int(rng.integers(2**62)))
        params = torch.stack([spec.sample((), generator=generator) for spec in self.specs])
        for index, value in self.fixed.items():  # drawn all the same: the other draws stay put
            params[index] = value
        y = self.reference(x, params.numpy())
        if not np.isfinite(y).all():
            raise FloatingPointError(
                f"The reference produced NaN or inf for settings {params.tolist()}."
            )
        return {
            "x": torch.from_numpy(x)[None],
            "params": params.float(),
            "y": torch.from_numpy(np.ascontiguousarray(y, dtype=np.float32)),
        }


def collate_pairs(items: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    return {key: torch.stack([item[key] for item in items]) for key in items[0]}


#: Synthetic sessions made when no audio folder is given and no samples are installed.
SYNTHETIC_SESSIONS = {"train": range(0, 16), "validation": range(100, 102), "test": range(200, 203)}


def synthetic_clips(split: str, sample_rate: int, seconds: float = 6.0) -> list[torch.Tensor]:
    """The stems of procedurally played sessions; each split has its own session seeds."""
    from console.data.synthetic import make_session

    clips: list[torch.Tensor] = []
    for seed in SYNTHETIC_SESSIONS[split]:
        session = make_session(seed, seconds, sample_rate, source="synth", spec="gain+pan")
        clips.extend(stem for stem in session.stems if float(stem.abs().max()) > 1e-5)
    return clips


def split_clips(
    folder: str | Path | None, sample_rate: int
) -> tuple[dict[str, list[torch.Tensor]], str]:
    """Clips per split from ``folder``, else sonic-pi-samples, else synthetic sessions.

    Returns the clips and a line saying where they came from.
    """
    if folder is None:
        from console.data.samples import samples_dir

        folder = samples_dir()
        if folder is None:
            clips = {s: synthetic_clips(s, sample_rate) for s in SYNTHETIC_SESSIONS}
            return clips, "synthetic sessions (no audio folder given, no samples installed)"
    files = audio_files(folder)
    by_split: dict[str, list[Path]] = {"train": [], "validation": [], "test": []}
    for path in files:
        by_split[split_of(path)].append(path)
    if not by_split["train"]:
        raise AudioInputError(
            f"All {len(files)} files under {folder} fell in the held-out splits; give more files."
        )
    clips = {split: load_clips(paths, sample_rate) for split, paths in by_split.items()}
    counts = ", ".join(f"{len(v)} {k}" for k, v in by_split.items())
    return clips, f"{folder} ({counts} files)"
