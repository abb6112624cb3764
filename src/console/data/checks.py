"""Checking a song's files before training, so a bad file is reported once and skipped.

Only headers are read (``soundfile.info``), so checking thousands of songs is
fast. What each problem leads to is documented in ``docs/data.rst``:

* unreadable or empty file, missing file, a header whose sample rate is outside
  8000 to 384000 Hz: the song is skipped;
* a mix that is not stereo (mono, 3 channels, ...): the song is skipped;
* a file at another sample rate than the dataset's: the song is skipped,
  unless resampling was asked for;
* a stem shorter than the mix: kept, padded with silence (reported);
  a stem longer than the mix is cut to the mix.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs
import soundfile as sf

from console.audio import MAX_SAMPLE_RATE, MIN_SAMPLE_RATE, sample_rate_problem
from console.data.problems import report
from console.data.song import Song


@attrs.frozen
class FileInfo:
    """What the header of one file says."""

    frames: int
    sample_rate: int
    channels: int


@attrs.frozen
class CheckedSong:
    """A song whose headers were read and found usable, with its length at the target rate."""

    song: Song
    frames: int
    stem_infos: tuple[FileInfo, ...]
    mix_info: FileInfo


def read_header(path) -> FileInfo | None:
    """The header of ``path``, or ``None`` (reported) when it is missing or unreadable."""
    if not path.is_file():
        report(path, "the file does not exist", "skipping its song")
        return None
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, OSError) as exc:
        report(path, f"cannot be read as audio ({exc})", "skipping its song")
        return None
    if info.frames <= 0:
        report(path, "contains no samples", "skipping its song")
        return None
    if sample_rate_problem(int(info.samplerate)) is not None:
        report(path, f"its header gives a sample rate of {info.samplerate} Hz, outside "
               f"{MIN_SAMPLE_RATE} to {MAX_SAMPLE_RATE} Hz (damaged?)", "skipping its song")
        return None
    return FileInfo(int(info.frames), int(info.samplerate), int(info.channels))


def check_song(song: Song, sample_rate: int, resample: bool = False) -> CheckedSong | None:
    """Read the headers of ``song``; ``None`` (with a :class:`DataWarning`) if unusable."""
    infos = [read_header(path) for path in song.files]
    if any(info is None for info in infos):
        return None
    *stem_infos, mix_info = infos
    assert mix_info is not None
    if mix_info.channels != 2:
        kind = "mono" if mix_info.channels == 1 else f"{mix_info.channels}-channel"
        report(song.mix, f"the mix is {kind}, not stereo", "skipping its song")
        return None
    if not resample:
        for path, info in zip(song.files, infos, strict=True):
            if info.sample_rate != sample_rate:
                report(
                    path,
                    f"sample rate {info.sample_rate} Hz differs from the dataset's "
                    f"{sample_rate} Hz",
                    "skipping its song (pass resample=True to convert while reading)",
                )
                return None
    frames = round(mix_info.frames * sample_rate / mix_info.sample_rate)
    for path, info in zip(song.stems, stem_infos, strict=True):
        if info.frames / info.sample_rate < mix_info.frames / mix_info.sample_rate - 1e-6:
            report(
                path,
                f"the stem ({info.frames} samples) is shorter than the mix "
                f"({mix_info.frames} samples)",
                "padding it with silence",
            )
    return CheckedSong(song, frames, tuple(stem_infos), mix_info)  # type: ignore[arg-type]


def check_songs(
    songs: Iterable[Song], sample_rate: int, resample: bool = False
) -> list[CheckedSong]:
    """The usable songs among ``songs``, each problem reported with its file."""
    checked = (check_song(song, sample_rate, resample) for song in songs)
    return [c for c in checked if c is not None]
