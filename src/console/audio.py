"""Reading a folder of stems and writing mixes, with errors that name the file."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import attrs
import numpy as np
import soundfile as sf
import torch
import torchaudio

from console.atomic import atomic_write
from console.errors import AudioInputError

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".aif", ".aiff")
#: Mix sample rates a user may ask for: telephone quality up to studio rates.
MIN_SAMPLE_RATE = 8000
MAX_SAMPLE_RATE = 384000


@attrs.frozen
class Stems:
    """Mono tracks ``(K, T)`` at one sample rate, with their names and source files."""

    audio: torch.Tensor
    sample_rate: int
    names: list[str]
    paths: list[Path]
    notes: list[str] = attrs.field(factory=list)


def list_audio_files(directory: str | Path) -> list[Path]:
    """Audio files directly inside ``directory``, sorted by name; hidden files are skipped."""
    directory = Path(directory)
    if not directory.is_dir():
        raise AudioInputError(f"The stems folder {directory} does not exist or is not a folder.")
    files = sorted(
        p for p in directory.iterdir()
        if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES and not p.name.startswith(".")
    )
    if not files:
        raise AudioInputError(
            f"No audio files in {directory}; put one file per stem there "
            f"({', '.join(AUDIO_SUFFIXES)})."
        )
    return files


@attrs.frozen
class AudioInfo:
    """What a file's header says: enough to plan a mix without reading the samples."""

    path: Path
    sample_rate: int
    channels: int
    frames: int


def probe(path: str | Path) -> AudioInfo:
    """Read a file's header; refuse unreadable or empty files with the file's name."""
    path = Path(path)
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, OSError) as exc:
        raise AudioInputError(
            f"Cannot read {path} as audio ({exc}); convert it to WAV or FLAC or remove it."
        ) from exc
    if info.frames <= 0:
        raise AudioInputError(f"{path} contains no samples; remove it or replace it.")
    return AudioInfo(path, int(info.samplerate), int(info.channels), int(info.frames))


def read_audio(path: str | Path) -> tuple[torch.Tensor, int]:
    """Read any soundfile-readable file as ``(channels, samples)`` float32."""
    path = Path(path)
    try:
        data, sample_rate = sf.read(path, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, OSError) as exc:
        raise AudioInputError(
            f"Cannot read {path} as audio ({exc}); convert it to WAV or FLAC or remove it."
        ) from exc
    if data.shape[0] == 0:
        raise AudioInputError(f"{path} contains no samples; remove it or replace it.")
    if not np.isfinite(data).all():
        raise AudioInputError(f"{path} contains NaN or infinite samples; re-export it.")
    return torch.from_numpy(np.ascontiguousarray(data.T)), int(sample_rate)


def resample(audio: torch.Tensor, orig: int, target: int) -> torch.Tensor:
    """Band-limited resampling (torchaudio's windowed sinc)."""
    if orig == target:
        return audio
    return torchaudio.functional.resample(audio, orig, target)


def load_stems(
    directory: str | Path,
    sample_rate: int | None = None,
    pad: bool = True,
    files: Sequence[str | Path] | None = None,
) -> Stems:
    """Load every stem of a folder as mono tracks at one sample rate.

    Multichannel stems are averaged to mono; stems at other rates are
    resampled to ``sample_rate`` (default: the highest rate among the stems).
    Stems of different lengths are padded with silence to the longest, or
    refused when ``pad=False``.
    """
    paths = [Path(f) for f in files] if files is not None else list_audio_files(directory)
    loaded = [(p, *read_audio(p)) for p in paths]
    target = int(sample_rate or max(sr for _, _, sr in loaded))
    notes: list[str] = []
    tracks = []
    for path, audio, sr in loaded:
        if audio.shape[0] > 1:
            notes.append(f"{path.name}: {audio.shape[0]} channels averaged to mono")
            audio = audio.mean(dim=0, keepdim=True)
        if sr != target:
            notes.append(f"{path.name}: resampled from {sr} Hz to {target} Hz")
            audio = resample(audio, sr, target)
        tracks.append(audio[0])
    lengths = [t.shape[-1] for t in tracks]
    longest = max(lengths)
    if min(lengths) != longest:
        if not pad:
            detail = ", ".join(f"{p.name}: {n}" for p, n in zip(paths, lengths, strict=True))
            raise AudioInputError(
                f"The stems have different lengths in samples ({detail}); trim them to one "
                f"length or allow padding with silence."
            )
        notes.append(f"shorter stems padded with silence to {longest} samples")
    audio = torch.stack([torch.nn.functional.pad(t, (0, longest - t.shape[-1])) for t in tracks])
    return Stems(audio, target, [p.name for p in paths], paths, notes)


#: ``--bit-depth`` choices: integer PCM widths, or 32-bit float (the WAV default).
BIT_DEPTHS = ("16", "24", "float")
_SUBTYPES = {"16": "PCM_16", "24": "PCM_24", "float": "FLOAT"}
#: Formats that store 32-bit float, so samples above full scale survive.
_FLOAT_FORMATS = (".wav", ".aif", ".aiff")


def output_subtype(path: str | Path, bit_depth: str | None = None) -> str:
    """The libsndfile subtype to write ``path`` with; refuses a depth its format cannot hold.

    WAV and AIFF default to 32-bit float (nothing is ever clipped); FLAC to 24-bit; OGG is
    Vorbis, whatever the depth.
    """
    suffix = Path(path).suffix.lower()
    if suffix not in AUDIO_SUFFIXES:
        raise AudioInputError(
            f"Cannot write {path}: use one of the suffixes {', '.join(AUDIO_SUFFIXES)}."
        )
    if bit_depth is not None and bit_depth not in BIT_DEPTHS:
        raise AudioInputError(
            f"Unknown bit depth {bit_depth!r}; choose one of {', '.join(BIT_DEPTHS)}."
        )
    if suffix == ".ogg":
        return "VORBIS"
    if suffix == ".flac":
        if bit_depth == "float":
            raise AudioInputError(
                f"FLAC cannot store float samples ({path}); use --bit-depth 16 or 24, or "
                f"write a .wav."
            )
        return _SUBTYPES[bit_depth or "24"]
    return _SUBTYPES[bit_depth or "float"]


def is_float_subtype(subtype: str) -> bool:
    return subtype in ("FLOAT", "DOUBLE")


def write_audio(
    path: str | Path, audio: torch.Tensor, sample_rate: int, bit_depth: str | None = None
) -> None:
    """Write ``(channels, samples)`` atomically, never clipped.

    Float formats keep samples above full scale; integer PCM and Vorbis would clip
    them, so such audio is refused before anything is written (lower the level or
    use the master stage's ceiling).
    """
    path = Path(path)
    subtype = output_subtype(path, bit_depth)
    data = audio.detach().cpu().float().numpy().T
    if not np.isfinite(data).all():
        raise AudioInputError(f"Refusing to write {path}: the audio contains NaN or infinity.")
    peak = float(np.abs(data).max()) if data.size else 0.0
    if peak > 1.0 and not is_float_subtype(subtype):
        raise AudioInputError(
            f"Refusing to write {path}: its peak is {20 * np.log10(peak):+.1f} dBFS and "
            f"{subtype} would clip it; keep the master stage's ceiling on, or write a .wav "
            f"(32-bit float)."
        )
    atomic_write(path, lambda tmp: sf.write(tmp, data, int(sample_rate), subtype=subtype))
