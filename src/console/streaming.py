"""Mixing full-length songs in bounded memory: stems are read, and the mix written, in blocks.

A console has one static setting per track and song, so ``console mix`` reads
the stems twice, a block at a time (:class:`~console.audio.StemReader`):

1. *Listening* (:func:`decide_settings`): each track's loudness, which sets the
   input trim the encoder hears it at, is measured on the whole track
   (:class:`~console.meter.LoudnessMeter`). The encoder hears the whole track up to
   :data:`LISTEN_FRAMES` samples (10 minutes at 48 kHz); a longer track is heard
   as evenly spaced excerpts of :data:`EXCERPT_SECONDS` that span it, as many as
   fit in that budget, so the settings still come from the whole song.
2. *Rendering* (:func:`render_blocks`): a chain whose effects are all memoryless
   (``gain``, ``pan``: each output sample depends on one input sample) renders
   every track block by block, exactly as a whole-track render would; a chain with
   memory (EQ, compressor, reverb) renders one whole track at a time into the mix.

:func:`write_mix` sums the blocks into a temporary file beside the output while
measuring the mix's loudness and peak, then applies the master stage and writes
the file block by block. Memory then grows with neither the number of stems nor
(for memoryless chains) the song's length: ``console mix`` of 16 stems x 30
minutes at 44.1 kHz peaked at 1.7 GB resident, of which about 0.95 GB is the
interpreter with torch loaded and 0.7 GB the encoder hearing 10 minutes of a
track; ``console render`` at 1.0 GB (``benchmarks/bench_long_mix.py``). A chain
with memory holds the mix and one whole processed track besides (about 65 MB per
minute of song at 44.1 kHz for ``gain+eq:dsp+comp:dsp+pan``).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

import attrs
import numpy as np
import soundfile as sf
import torch

from console.atomic import atomic_write
from console.audio import StemReader, check_sample_rate, is_float_subtype, output_subtype, probe
from console.chain import EffectChain
from console.console import Console
from console.decisions import trim_db_from_lufs
from console.errors import AudioInputError, ConsoleError
from console.master import MasterReport, MasterSettings, apply_gain, master_gain, master_report
from console.meter import LoudnessMeter
from console.stereo import ChannelStats, StereoCheck, encoder_view

Progress = Callable[[str], None]

#: Samples of one track the encoder hears at most: 10 minutes at 48 kHz.
LISTEN_FRAMES = 600 * 48000
#: Length of each excerpt a longer track is heard as.
EXCERPT_SECONDS = 20.0
#: Frames rendered, measured and written at a time.
BLOCK_FRAMES = 1 << 18


def _quiet(_: str) -> None:
    pass


def excerpt_windows(frames: int, sample_rate: int) -> list[tuple[int, int]]:
    """``(start, end)`` of what the encoder hears of a ``frames``-long track.

    The whole track when it fits in :data:`LISTEN_FRAMES`, else evenly spaced
    excerpts from its first to its last sample, together at most that long.
    """
    if frames <= LISTEN_FRAMES:
        return [(0, frames)]
    length = max(1, min(int(EXCERPT_SECONDS * sample_rate), LISTEN_FRAMES))
    count = max(1, LISTEN_FRAMES // length)
    starts = np.linspace(0, frames - length, count).round().astype(np.int64)
    return [(int(s), int(s) + length) for s in starts]


@attrs.frozen
class HeardTrack:
    """What listening to one whole stem gives: enough to decide its settings."""

    #: What the encoder hears ``(1, T)`` (``None`` when not kept): the mono track, or a
    #: stereo track's mid (:func:`console.stereo.encoder_view`).
    excerpt: torch.Tensor | None
    #: Input trim ``(1,)`` in dB from the whole track's loudness (both channels of a
    #: stereo track).
    trim: torch.Tensor
    peak: float
    stereo: StereoCheck


def _read_track(
    path: str | Path, sample_rate: int, keep: bool = True, mono: bool = False
) -> HeardTrack:
    """Listen to one stem, read in blocks; ``mono`` reads a stereo stem as its average."""
    path = Path(path)
    info = probe(path)
    # a file of more than two channels is a mono track (console mix refuses it before this)
    channels = 1 if mono or info.channels > 2 else info.channels
    with StemReader(path, sample_rate, channels) as reader:
        frames = reader.frames
        windows = excerpt_windows(frames, sample_rate)
        stats = ChannelStats(path.name, channels)
        meters = [LoudnessMeter(sample_rate, frames, c, "torchaudio")
                  for c in range(1, channels + 1)]
        pieces, peak, start = [], 0.0, 0
        while start < frames:
            block = reader.read(min(BLOCK_FRAMES, frames - start)).reshape(channels, -1)
            end = start + block.shape[-1]
            stats.feed(block)
            meters[0].feed(block.mean(dim=0, keepdim=True))
            if channels == 2:
                meters[1].feed(block)
            peak = max(peak, float(block.abs().max()))
            for low, high in windows if keep else ():
                low, high = max(low, start), min(high, end)
                if low < high:
                    pieces.append(block[:, low - start : high - start].clone())
            start = end
    check = attrs.evolve(stats.check(), file_channels=info.channels)  # read as `channels`
    excerpt = None
    if keep:
        audio = torch.cat(pieces, dim=-1)
        excerpt = encoder_view(audio[None]) if check.channels == 2 else audio.mean(0)[None]
    lufs = meters[check.channels - 1].lufs()
    trim = trim_db_from_lufs(torch.tensor([lufs], dtype=torch.float64)).float()
    return HeardTrack(excerpt, trim, peak, check)


def track_trim_db(path: str | Path, sample_rate: int, mono: bool = False) -> float:
    """The input trim in dB ``console mix`` gives a stem: from its whole-song loudness.

    ``mono``: of the stem averaged to mono (as training's datasets read stems).
    """
    return float(_read_track(path, sample_rate, keep=False, mono=mono).trim[0])


def listen_to_file(
    console: Console, path: str | Path, sample_rate: int, mono: bool = False
) -> tuple[torch.Tensor, HeardTrack]:
    """Embedding ``(1, D)`` of one stem, and what listening to it found (read in blocks)."""
    heard = _read_track(path, sample_rate, mono=mono)
    embedding, trim = console.listen(heard.excerpt, sample_rate, trim_db=heard.trim)
    return embedding, attrs.evolve(heard, trim=trim)  # a console of absolute gains: 0 dB


@attrs.frozen
class DecidedMix:
    """The console's settings for a song's stems, and each stem's channel count."""

    #: Physical settings ``(K, P)``.
    settings: torch.Tensor
    #: 1 for a mono track, 2 for a stereo one.
    channels: list[int]


def decide_settings(
    console: Console,
    paths: Sequence[str | Path],
    sample_rate: int,
    progress: Progress | None = None,
    warn: Progress | None = None,
    mono: bool = False,
) -> DecidedMix:
    """The console's physical settings for the stems in ``paths``, with their channels.

    Stereo stems are stereo tracks unless ``mono``. ``progress`` hears which stems
    are mono in stereo files; ``warn`` of silent stems and out-of-phase ones, by name.
    """
    paths = [Path(p) for p in paths]
    if not paths:
        raise AudioInputError("There are no stems to mix; give at least one track.")
    note, alarm = progress or _quiet, warn or _quiet
    chain_problem = None if mono else console.chain.stereo_problem()
    silent = []
    with torch.no_grad():
        embeddings, trims, channels = [], [], []
        for k, path in enumerate(paths):
            note(f"listening to {path.name} ({k + 1}/{len(paths)})")
            embedding, heard = listen_to_file(console, path, sample_rate, mono)
            if mono and heard.stereo.file_channels == 2:
                note(f"{path.name}: 2 channels averaged to mono (--mono)")
            for text in heard.stereo.notes():
                (alarm if heard.stereo.out_of_phase else note)(text)
            if heard.stereo.channels == 2 and chain_problem is not None:
                raise ConsoleError(
                    f"{path.name} is stereo, and the chain {console.spec!r} cannot mix stereo "
                    f"tracks: {chain_problem}; mix with --mono (stereo=False) or another chain."
                )
            if not heard.peak > 0:
                silent.append(path.name)
                alarm(f"{path.name} is silent; it adds nothing to the mix")
            embeddings.append(embedding)
            trims.append(heard.trim)
            channels.append(heard.stereo.channels)
        if len(silent) == len(paths):
            alarm("every stem is silent, so the mix is silence")
        song = torch.zeros(len(paths), dtype=torch.long)
        _, physical = console.decide(torch.cat(embeddings), torch.cat(trims), song, 1,
                                     torch.tensor(channels) == 2)
    return DecidedMix(physical, channels)


def is_memoryless(chain: EffectChain) -> bool:
    """Whether every effect's output sample depends only on the same input sample.

    Effects say so with a ``memoryless = True`` class attribute; such a chain
    renders a song block by block exactly as in one piece.
    """
    return all(getattr(effect, "memoryless", False) for effect in chain.effects)


def _through(
    chain: EffectChain, track: torch.Tensor, row: torch.Tensor, sample_rate: int
) -> torch.Tensor:
    """One track ``(T,)`` or ``(2, T)`` (a stereo track) through ``chain``: ``(2, T)``."""
    stereo = torch.tensor([track.dim() == 2])
    return chain(track[None], row[None].to(track), sample_rate, stereo)[0]


def render_blocks(
    chain: EffectChain,
    paths: Sequence[str | Path],
    settings: torch.Tensor,
    sample_rate: int,
    frames: int,
    progress: Progress | None = None,
    channels: Sequence[int] | None = None,
) -> Iterator[torch.Tensor]:
    """The mix of ``paths`` through ``chain`` with ``(K, P)`` settings, as ``(2, n)`` blocks.

    ``channels`` (1 or 2 a stem; default all mono) says which stems are read and
    mixed as stereo tracks. Every track is cut or padded to ``frames``; the blocks
    add up to ``frames``.
    """
    paths = [Path(p) for p in paths]
    channels = list(channels) if channels is not None else [1] * len(paths)
    note = progress or _quiet
    if is_memoryless(chain):
        yield from _render_in_blocks(chain, paths, settings, sample_rate, frames, note, channels)
        return
    mix = torch.zeros(2, frames)
    with torch.no_grad():
        for k, path in enumerate(paths):
            note(f"mixing {path.name} ({k + 1}/{len(paths)})")
            with StemReader(path, sample_rate, channels[k]) as reader:
                track = reader.read(frames)
            mix += _through(chain, track, settings[k], sample_rate)
            del track
    for start in range(0, frames, BLOCK_FRAMES):
        yield mix[:, start : start + BLOCK_FRAMES]


def _render_in_blocks(
    chain: EffectChain,
    paths: Sequence[Path],
    settings: torch.Tensor,
    sample_rate: int,
    frames: int,
    note: Progress,
    channels: Sequence[int],
) -> Iterator[torch.Tensor]:
    readers = []
    try:
        for k, path in enumerate(paths):
            note(f"mixing {path.name} ({k + 1}/{len(paths)})")
            readers.append(StemReader(path, sample_rate, channels[k]))
        tenth = 0
        with torch.no_grad():
            for start in range(0, frames, BLOCK_FRAMES):
                n = min(BLOCK_FRAMES, frames - start)
                block = torch.zeros(2, n)
                for k, reader in enumerate(readers):
                    block += _through(chain, reader.read(n), settings[k], sample_rate)
                yield block
                if frames > 10 * BLOCK_FRAMES and (start + n) * 10 // frames > tenth:
                    tenth = (start + n) * 10 // frames
                    note(f"mixed {_clock((start + n) / sample_rate)} of "
                         f"{_clock(frames / sample_rate)}")
    finally:
        for reader in readers:
            reader.close()


def _clock(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds), 60)
    return f"{minutes}:{seconds:02d}"


def mix_frames(paths: Sequence[str | Path], sample_rate: int) -> int:
    """Length of the mix at ``sample_rate``: the longest stem's."""
    return max(round(i.frames * sample_rate / i.sample_rate) for i in map(probe, paths))


def write_mix(
    blocks: Iterable[torch.Tensor],
    frames: int,
    sample_rate: int,
    output: str | Path,
    settings: MasterSettings | None = None,
    bit_depth: str | None = None,
    save: Callable[[Path, Callable[[Path], None]], None] = atomic_write,
) -> MasterReport:
    """Master and write a ``(2, frames)`` mix given as blocks, as :func:`~console.master.master`
    and :func:`~console.audio.write_audio` would the whole.

    The blocks go to an unnamed temporary file beside ``output`` (8 bytes a frame)
    while the mix's loudness and peak are measured; the file is then scaled,
    written beside ``output`` and renamed onto it. Nothing is written when the
    mix holds NaN or infinity, or when an integer format would clip it.
    """
    output = Path(output)
    settings = settings if settings is not None else MasterSettings()
    subtype = output_subtype(output, bit_depth)
    check_sample_rate(sample_rate, f"Cannot write {output}: its sample rate")
    meter = LoudnessMeter(sample_rate, frames, 2, "pyloudnorm")
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile(dir=output.parent, prefix=f".{output.stem}.") as raw:
        peak, written = 0.0, 0
        for block in blocks:
            if not bool(torch.isfinite(block).all()):
                raise ConsoleError(
                    "The mix contains NaN or infinite samples (an effect failed on this "
                    "audio); nothing was written."
                )
            meter.feed(block)
            if block.numel():
                peak = max(peak, float(block.abs().max()))
            raw.write(block.detach().float().T.contiguous().numpy().tobytes())
            written += block.shape[-1]
        if written != frames:
            raise ValueError(f"The mix had {written} frames, not the {frames} announced.")
        input_lufs = meter.lufs()
        input_peak = 20.0 * float(np.log10(peak)) if peak > 0 else -np.inf
        gain_db, limited = master_gain(input_lufs, input_peak, settings)
        loudest = float(apply_gain(torch.tensor([peak]), gain_db, settings)[0])
        if loudest > 1.0 and not is_float_subtype(subtype):
            raise AudioInputError(
                f"Refusing to write {output}: its peak is {20 * np.log10(loudest):+.1f} dBFS "
                f"and {subtype} would clip it; keep the master stage's ceiling on, or write a "
                f".wav (32-bit float)."
            )
        out_peak = 0.0

        def write(tmp: Path) -> None:
            nonlocal out_peak
            raw.seek(0)
            buffer = bytearray(BLOCK_FRAMES * 8)
            with sf.SoundFile(tmp, "w", int(sample_rate), 2, subtype) as f:
                while count := raw.readinto(buffer):
                    data = torch.from_numpy(
                        np.frombuffer(buffer, np.float32, count // 4).reshape(-1, 2))
                    data = apply_gain(data, gain_db, settings)
                    if data.numel():
                        out_peak = max(out_peak, float(data.abs().max()))
                    f.write(data.numpy())

        save(output, write)
    output_peak = 20.0 * float(np.log10(out_peak)) if out_peak > 0 else -np.inf
    return master_report(input_lufs, input_peak, gain_db, limited, output_peak, settings)


def _collect(blocks: Iterable[torch.Tensor], frames: int) -> torch.Tensor:
    mix = torch.zeros(2, frames)
    start = 0
    for block in blocks:
        mix[:, start : start + block.shape[-1]] = block
        start += block.shape[-1]
    return mix


def stream_mix(
    console: Console,
    paths: Sequence[str | Path],
    sample_rate: int,
    pad: bool = True,
    progress: Progress | None = None,
    warn: Progress | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mix audio files; returns the mix ``(2, T)`` in memory and the settings ``(K, P)``.

    ``T`` is the longest stem's length at ``sample_rate``; shorter stems are
    padded with silence (or refused when ``pad=False``). ``console mix`` writes
    long songs with :func:`decide_settings`, :func:`render_blocks` and
    :func:`write_mix` instead, never holding the mix.
    """
    paths = [Path(p) for p in paths]
    if not paths:
        raise AudioInputError("There are no stems to mix; give at least one track.")
    infos = [probe(path) for path in paths]
    lengths = [round(i.frames * sample_rate / i.sample_rate) for i in infos]
    longest = max(lengths)
    if not pad and min(lengths) != longest:
        raise AudioInputError("The stems have different lengths; trim them to one length.")
    decided = decide_settings(console, paths, sample_rate, progress, warn)
    mix = stream_render(console.chain, paths, decided.settings, sample_rate, longest, progress,
                        decided.channels)
    return mix, decided.settings


def stream_render(
    chain: EffectChain,
    paths: Sequence[str | Path],
    settings: torch.Tensor,
    sample_rate: int,
    frames: int,
    progress: Progress | None = None,
    channels: Sequence[int] | None = None,
) -> torch.Tensor:
    """Render files through ``chain`` with ``(K, P)`` settings into a ``(2, frames)`` mix."""
    return _collect(
        render_blocks(chain, paths, settings, sample_rate, frames, progress, channels), frames)
