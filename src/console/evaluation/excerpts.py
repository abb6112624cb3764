"""The short, loudness-matched excerpts a listening test plays, and their anchor.

For each song one window is cut at the same place from the reference and from
every system's mix: the loudest ``seconds`` of the reference, so listeners
hear the song where it is fullest. Every excerpt is brought to one loudness
(louder sounds better, and level is not what the test asks about) and faded
in and out. The anchor is the mono sum low-passed at 3.5 kHz, as ITU-R
BS.1534 (MUSHRA) prescribes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import soundfile as sf
import torch

from console.evaluation.normalise import to_comparison_loudness
from console.evaluation.systems import safe_name
from console.output_paths import write_file

ANCHOR_CUTOFF_HZ = 3500.0
FADE_SECONDS = 0.02


def loudest_window(mix: torch.Tensor, sample_rate: int, seconds: float) -> tuple[int, int]:
    """``(start, end)`` of the ``seconds`` with the most energy, on a 0.5 s grid."""
    frames = mix.shape[-1]
    length = int(seconds * sample_rate)
    if length >= frames:
        return 0, frames
    hop = max(1, sample_rate // 2)
    energy = mix.double().square().sum(dim=0)
    cumulative = torch.cat([energy.new_zeros(1), energy.cumsum(0)])
    starts = torch.arange(0, frames - length + 1, hop)
    sums = cumulative[starts + length] - cumulative[starts]
    start = int(starts[int(sums.argmax())])
    return start, start + length


def low_pass(audio: torch.Tensor, sample_rate: int, cutoff_hz: float) -> torch.Tensor:
    """An ideal (brick-wall) low-pass of ``(C, T)`` by zeroing FFT bins above ``cutoff_hz``."""
    spectrum = torch.fft.rfft(audio.double(), dim=-1)
    freqs = torch.fft.rfftfreq(audio.shape[-1], 1.0 / sample_rate)
    spectrum[..., freqs > cutoff_hz] = 0
    return torch.fft.irfft(spectrum, n=audio.shape[-1], dim=-1).to(audio.dtype)


def anchor_mix(stems: torch.Tensor, sample_rate: int) -> torch.Tensor:
    """The MUSHRA anchor of a song: the centred mono sum of ``(K, T)`` stems, low-passed."""
    mono = stems.sum(dim=0, keepdim=True).expand(2, -1) / 2**0.5
    return low_pass(mono, sample_rate, ANCHOR_CUTOFF_HZ)


def prepare_excerpt(audio: torch.Tensor, sample_rate: int) -> torch.Tensor:
    """Loudness-matched, faded ``(2, T)`` ready for listening."""
    audio = to_comparison_loudness(audio, sample_rate)
    fade = min(int(FADE_SECONDS * sample_rate), audio.shape[-1] // 2)
    if fade > 0:
        ramp = torch.linspace(0.0, 1.0, fade, dtype=audio.dtype)
        audio = audio.clone()
        audio[:, :fade] *= ramp
        audio[:, -fade:] *= ramp.flip(0)
    return audio


def song_excerpts(
    mixes: dict[str, torch.Tensor], window: tuple[int, int], sample_rate: int
) -> dict[str, torch.Tensor]:
    """Cut ``window`` from every ``(2, T)`` mix of one song and prepare it for listening.

    When a loudness-matched excerpt would clip, all excerpts of the song are
    turned down by the same amount, so they stay matched.
    """
    pieces = {
        label: prepare_excerpt(audio[:, window[0] : window[1]], sample_rate)
        for label, audio in mixes.items()
    }
    peak = max(float(piece.abs().max()) for piece in pieces.values())
    scale = 0.99 / peak if peak > 0.99 else 1.0
    return {label: piece * scale for label, piece in pieces.items()}


def excerpt_folders(songs: Sequence[str]) -> list[str]:
    """A folder name per song, never shared, even by names that differ only in unsafe characters.

    A name that is already safe is kept; any other gets a short hash of the
    whole name, so ``a b`` and ``a-b`` stay apart and a song's folder does not
    depend on which other songs are evaluated. Names equal but for case (one
    folder on some file systems) are numbered in order.
    """
    folders: list[str] = []
    taken: set[str] = set()
    for song in songs:
        safe = safe_name(song, "song")
        if safe != song:
            safe = f"{safe}-{hashlib.sha1(song.encode()).hexdigest()[:8]}"
        folder, number = safe, 2
        while folder.casefold() in taken:
            folder, number = f"{safe}-{number}", number + 1
        taken.add(folder.casefold())
        folders.append(folder)
    return folders


def write_excerpts(
    folder: Path, excerpts: dict[str, torch.Tensor], sample_rate: int, force: bool = False
) -> dict[str, str]:
    """Write each excerpt as 16-bit ``folder/<label>.wav``; returns label to file name.

    An excerpt console did not write, or that changed since, is replaced only with ``force``.
    """
    names = {}
    for label, audio in excerpts.items():
        names[label] = f"{label}.wav"
        data = audio.detach().cpu().float().numpy().T
        write_file(  # 16-bit PCM: every browser decodes it
            folder / names[label],
            lambda tmp, data=data: sf.write(tmp, data, sample_rate, subtype="PCM_16"),
            force=force, what="listening-test excerpt", by="console evaluate",
        )
    return names
