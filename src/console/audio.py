"""Reading a folder of stems and writing mixes, with errors that name the file."""

from __future__ import annotations

import numbers
import os
from collections.abc import Sequence
from pathlib import Path

import attrs
import numpy as np
import soundfile as sf
import torch
import torchaudio

from console.atomic import atomic_write
from console.errors import AudioInputError
from console.stereo import as_channels, check_channel_count, check_stereo, stack_tracks

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".aif", ".aiff")
#: Sample rates console reads, mixes and writes: telephone quality up to studio rates. A
#: stem, a params file or an option outside them is refused (a header saying 5 MHz, or a
#: params file saying 1 Hz, is damaged, and would make a useless or enormous file).
MIN_SAMPLE_RATE = 8000
MAX_SAMPLE_RATE = 384000
#: The loudest sample a stem may hold: +60 dBFS. Float files may go above full scale, but a
#: sample a thousand times over it is damage (a broken plugin, a corrupt file), and its
#: one click would set the track's loudness and so its level in the mix.
MAX_SAMPLE_PEAK = 1000.0


def sample_rate_problem(rate: object) -> str | None:
    """Why ``rate`` is not a sample rate console works at, or ``None`` when it is."""
    if isinstance(rate, bool) or not isinstance(rate, numbers.Integral):
        return f"must be a whole number of Hz, got {rate!r}"
    if not MIN_SAMPLE_RATE <= int(rate) <= MAX_SAMPLE_RATE:
        return f"must be from {MIN_SAMPLE_RATE} to {MAX_SAMPLE_RATE} Hz, got {rate}"
    return None


def check_sample_rate(rate: object, what: str = "The sample rate") -> int:
    """``rate`` itself, or :class:`AudioInputError` naming ``what`` ("--sample-rate", ...)."""
    problem = sample_rate_problem(rate)
    if problem is not None:
        raise AudioInputError(f"{what} {problem}.")
    return rate  # type: ignore[return-value]


def check_file_rate(path: Path, rate: int) -> None:
    """Refuse an audio file whose header gives a rate outside the supported range."""
    if sample_rate_problem(rate) is not None:
        raise AudioInputError(
            f"{path} says its sample rate is {rate} Hz; console reads audio at "
            f"{MIN_SAMPLE_RATE} to {MAX_SAMPLE_RATE} Hz, so the header is damaged or the file "
            f"needs resampling: convert it (e.g. sox or ffmpeg) or remove it."
        )


def check_samples(path: Path, data: np.ndarray, offset: int, sample_rate: int) -> None:
    """Refuse NaN, infinite or absurdly loud samples in ``data`` (frames from ``offset``)."""
    if not data.size:
        return
    peak = max(float(data.max()), -float(data.min()))
    if not np.isfinite(peak):  # max() and min() pass a NaN on
        raise AudioInputError(f"{path} contains NaN or infinite samples; re-export it.")
    if peak > MAX_SAMPLE_PEAK:
        loud = np.abs(data).reshape(data.shape[0], -1).max(axis=1)
        second = (offset + int(np.argmax(loud))) / sample_rate
        raise AudioInputError(
            f"{path} holds a sample of {peak:.3g} ({20 * np.log10(peak):+.0f} dBFS) at "
            f"{second:.3f} s; samples above {20 * np.log10(MAX_SAMPLE_PEAK):+.0f} dBFS are "
            f"damage, not audio, and would set the track's level: repair or re-export the file."
        )


@attrs.frozen
class Stems:
    """Tracks at one sample rate, with their names and source files.

    ``audio`` is ``(K, T)`` when every track is mono, else ``(K, 2, T)`` with the mono
    tracks on both sides; ``channels`` says which tracks are stereo (the console
    balances those and pans the others).
    """

    audio: torch.Tensor
    sample_rate: int
    names: list[str]
    paths: list[Path]
    notes: list[str] = attrs.field(factory=list)
    channels: list[int] = attrs.field(factory=list)

    @property
    def stereo(self) -> torch.Tensor:
        """``(K,)`` bool: the stereo tracks."""
        return torch.tensor([c == 2 for c in self.channels] or [False] * len(self.names))


def list_audio_files(directory: str | Path) -> list[Path]:
    """Audio files directly inside ``directory``, sorted by name; hidden files are skipped."""
    directory = Path(directory)
    if not directory.is_dir():
        raise AudioInputError(f"The stems folder {directory} does not exist or is not a folder.")
    candidates = sorted(
        p for p in directory.iterdir()
        if p.suffix.lower() in AUDIO_SUFFIXES and not p.name.startswith(".")
    )
    for path in candidates:
        if path.is_symlink() and not path.exists():
            raise AudioInputError(
                f"{path} is a symbolic link to {os.readlink(path)}, which does not exist; fix "
                f"the link or remove it (a stem left out would change the mix)."
            )
    files = [p for p in candidates if p.is_file()]
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
    check_file_rate(path, int(info.samplerate))
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
    check_file_rate(path, int(sample_rate))
    check_samples(path, data, 0, int(sample_rate))
    return torch.from_numpy(np.ascontiguousarray(data.T)), int(sample_rate)


def resample(audio: torch.Tensor, orig: int, target: int) -> torch.Tensor:
    """Band-limited resampling (torchaudio's windowed sinc)."""
    if orig == target:
        return audio
    return torchaudio.functional.resample(audio, orig, target)


class BlockResampler:
    """:func:`resample` of a signal fed in blocks of any size, to float rounding.

    torchaudio's resampler is a windowed-sinc filter applied with a stride: each
    group of output samples is one dot product over a fixed window of input. The
    windows whose input has arrived are computed as blocks come in; :meth:`finish`
    pads the end with the zeros torchaudio pads with and returns the rest.
    """

    def __init__(self, orig: int, target: int) -> None:
        self.identity = int(orig) == int(target)
        self._fed = 0
        self._emitted = 0
        if self.identity:
            return
        resampler = torchaudio.transforms.Resample(int(orig), int(target))
        self._orig = int(orig) // resampler.gcd
        self._new = int(target) // resampler.gcd
        self._kernel = resampler.kernel
        self._width = resampler.width
        self._span = self._kernel.shape[-1]  # 2 * width + orig
        self._buffer = torch.zeros(self._width)  # torchaudio's left padding

    def feed(self, block: torch.Tensor) -> torch.Tensor:
        """Resampled samples that ``block`` (1-D) completes; possibly none."""
        self._fed += block.shape[-1]
        if self.identity:
            return block
        self._buffer = torch.cat([self._buffer, block.to(self._kernel.dtype)])
        return self._convolve()

    def finish(self) -> torch.Tensor:
        """The last samples; the total is as long as :func:`resample` of the whole."""
        if self.identity:
            return torch.zeros(0)
        self._buffer = torch.cat([self._buffer, torch.zeros(self._width + self._orig)])
        out = self._convolve()
        total = -(-self._new * self._fed // self._orig)  # ceil, as torchaudio cuts it
        return out[: max(total - self._emitted + out.shape[-1], 0)]

    def _convolve(self) -> torch.Tensor:
        if self._buffer.shape[-1] < self._span:
            return torch.zeros(0)
        count = (self._buffer.shape[-1] - self._span) // self._orig + 1
        used = self._buffer[: (count - 1) * self._orig + self._span]
        out = torch.nn.functional.conv1d(used[None, None], self._kernel, stride=self._orig)
        self._buffer = self._buffer[count * self._orig:]
        out = out[0].transpose(0, 1).reshape(-1)
        self._emitted += out.shape[-1]
        return out


class StemReader:
    """One stem read block by block at ``sample_rate``, checked as it is read.

    ``channels=1`` reads the stem as mono (its channels averaged, as mixes made
    before stereo tracks, or with ``--mono``, heard it); ``channels=2`` as stereo (a
    mono file on both sides; a file of more channels is refused, see
    :mod:`console.stereo`). :meth:`read` returns exactly the number of samples asked
    for (silence after the end), so tracks of different lengths and rates line up
    block by block.
    """

    #: Frames read from the file at a time.
    chunk = 1 << 17

    def __init__(self, path: str | Path, sample_rate: int, channels: int = 1) -> None:
        self.path = Path(path)
        self.info = probe(self.path)
        if channels not in (1, 2):
            raise ValueError(f"A stem is read as 1 or 2 channels, not {channels}.")
        if channels == 2:
            check_channel_count(self.path.name, self.info.channels)
        self.channels = channels
        self.sample_rate = int(sample_rate)
        self.frames = (self.info.frames if self.info.sample_rate == self.sample_rate
                       else -(-self.info.frames * self.sample_rate // self.info.sample_rate))
        self._resamplers = [BlockResampler(self.info.sample_rate, self.sample_rate)
                            for _ in range(channels)]
        self._file: sf.SoundFile | None = None
        self._position = 0  # frames of the file read
        self._pending: list[torch.Tensor] = []
        self._ready = 0
        self._done = False

    def __enter__(self) -> StemReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def _pull(self) -> None:
        """Read and resample the next chunk of the file (or finish the resampler)."""
        if self._file is None:
            try:
                self._file = sf.SoundFile(str(self.path))
            except (sf.LibsndfileError, RuntimeError, OSError) as exc:
                raise AudioInputError(
                    f"Cannot read {self.path} as audio ({exc}); convert it to WAV or FLAC or "
                    f"remove it."
                ) from exc
        try:
            data = self._file.read(self.chunk, dtype="float32", always_2d=True)
        except (sf.LibsndfileError, RuntimeError, OSError) as exc:
            raise AudioInputError(
                f"Cannot read {self.path} past {self._position} frames ({exc}); the file is "
                f"damaged: re-export it."
            ) from exc
        check_samples(self.path, data, self._position, self.info.sample_rate)
        self._position += data.shape[0]
        if data.shape[0]:
            audio = as_channels(torch.from_numpy(np.ascontiguousarray(data.T)), self.channels)
            out = torch.stack([resampler.feed(channel.contiguous()) for resampler, channel
                               in zip(self._resamplers, audio, strict=True)])
        else:
            out = torch.stack([resampler.finish() for resampler in self._resamplers])
            self._done = True
            self.close()
        if out.shape[-1]:
            self._pending.append(out)
            self._ready += out.shape[-1]

    def read(self, n: int) -> torch.Tensor:
        """The next ``n`` samples at ``sample_rate``: ``(n,)`` mono or ``(2, n)`` stereo.

        Zeros past the end.
        """
        while self._ready < n and not self._done:
            self._pull()
        audio = (torch.cat(self._pending, dim=-1) if self._pending
                 else torch.zeros(self.channels, 0))
        out, rest = audio[:, :n], audio[:, n:]
        self._pending = [rest] if rest.shape[-1] else []
        self._ready = rest.shape[-1]
        if out.shape[-1] < n:
            out = torch.nn.functional.pad(out, (0, n - out.shape[-1]))
        return out[0] if self.channels == 1 else out


def load_stems(
    directory: str | Path,
    sample_rate: int | None = None,
    pad: bool = True,
    files: Sequence[str | Path] | None = None,
    stereo: bool = True,
) -> Stems:
    """Load every stem of a folder at one sample rate, stereo stems as stereo tracks.

    A stereo file whose channels are identical is a mono track, and a file of more
    than two channels is averaged to one (a note says so of each). ``stereo=False``
    averages every file to mono, for mixers that take mono tracks only. Stems at other
    rates are resampled to ``sample_rate`` (default: the highest rate among the
    stems). Stems of different lengths are padded with silence to the longest, or
    refused when ``pad=False``.
    """
    paths = [Path(f) for f in files] if files is not None else list_audio_files(directory)
    if sample_rate is not None:
        check_sample_rate(sample_rate)
    loaded = [(p, *read_audio(p)) for p in paths]
    target = int(sample_rate or max(sr for _, _, sr in loaded))
    notes: list[str] = []
    tracks, channels = [], []
    for path, audio, sr in loaded:
        if not stereo:  # every file averaged, of any channel count, as before stereo tracks
            if audio.shape[0] > 1:
                notes.append(f"{path.name}: {audio.shape[0]} channels averaged to mono")
            count = 1
        else:
            check = check_stereo(path.name, audio)
            notes += check.notes()
            count = check.channels
        audio = as_channels(audio, count)
        if sr != target:
            notes.append(f"{path.name}: resampled from {sr} Hz to {target} Hz")
            audio = resample(audio, sr, target)
        tracks.append(audio)
        channels.append(count)
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
    audio = stack_tracks(tracks, channels, longest)
    return Stems(audio, target, [p.name for p in paths], paths, notes, channels)


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
    check_sample_rate(sample_rate, f"Cannot write {path}: its sample rate")
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
