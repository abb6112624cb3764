"""Mixing full-length songs with memory bounded by one track, not by the whole session.

A console has one static setting per track and song, so the settings are
predicted from each whole track (the encoder averages over every 0.96 s
example), and the tracks are then processed one at a time and summed. Only
the mix buffer and one track live in memory at once; the stems are read from
disk twice instead.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from console.audio import probe, read_audio, resample
from console.chain import EffectChain
from console.console import Console
from console.errors import AudioInputError

Progress = Callable[[str], None]


def _read_mono(path: Path, sample_rate: int) -> torch.Tensor:
    audio, sr = read_audio(path)
    return resample(audio.mean(dim=0), sr, sample_rate)


def stream_mix(
    console: Console,
    paths: Sequence[str | Path],
    sample_rate: int,
    pad: bool = True,
    progress: Progress | None = None,
    warn: Progress | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mix audio files track by track; returns the mix ``(2, T)`` and settings ``(K, P)``.

    ``T`` is the longest stem's length at ``sample_rate``; shorter stems are
    padded with silence (or refused when ``pad=False``). ``warn`` hears of
    silent stems, by file name.
    """
    paths = [Path(p) for p in paths]
    if not paths:
        raise AudioInputError("There are no stems to mix; give at least one track.")
    infos = [probe(path) for path in paths]
    lengths = [round(i.frames * sample_rate / i.sample_rate) for i in infos]
    longest = max(lengths)
    if not pad and min(lengths) != longest:
        raise AudioInputError("The stems have different lengths; trim them to one length.")
    note = progress or (lambda _: None)
    alarm = warn or (lambda _: None)
    silent = []
    with torch.no_grad():
        embeddings, trims = [], []
        for k, path in enumerate(paths):
            note(f"listening to {path.name} ({k + 1}/{len(paths)})")
            track = _read_mono(path, sample_rate)
            if not bool(track.abs().max() > 0):
                silent.append(path.name)
                alarm(f"{path.name} is silent; it adds nothing to the mix")
            embedding, trim = console.listen(track[None], sample_rate)
            embeddings.append(embedding)
            trims.append(trim)
        if len(silent) == len(paths):
            alarm("every stem is silent, so the mix is silence")
        song = torch.zeros(len(paths), dtype=torch.long)
        _, physical = console.decide(torch.cat(embeddings), torch.cat(trims), song, 1)
    mix = stream_render(console.chain, paths, physical, sample_rate, longest, progress)
    return mix, physical


def stream_render(
    chain: EffectChain,
    paths: Sequence[Path],
    settings: torch.Tensor,
    sample_rate: int,
    frames: int,
    progress: Progress | None = None,
) -> torch.Tensor:
    """Render files one track at a time through ``chain`` with ``(K, P)`` settings.

    Every track is cut or padded to ``frames``; memory holds the mix and one track,
    so neural effects render songs of any length.
    """
    note = progress or (lambda _: None)
    mix = torch.zeros(2, frames)
    with torch.no_grad():
        for k, path in enumerate(paths):
            note(f"mixing {path.name} ({k + 1}/{len(paths)})")
            track = _read_mono(path, sample_rate)[:frames]
            track = torch.nn.functional.pad(track, (0, frames - track.shape[-1]))
            mix += chain(track[None], settings[k : k + 1].to(track), sample_rate)[0]
    return mix
