"""The export's audio: each stem as the session plays it, and printed through its chain.

A track is read exactly as ``console render`` reads it (mono or stereo as the
params file says, resampled to the mix rate, cut or padded to the mix length) and run through
the chain one effect at a time, the same calls :class:`~console.chain.EffectChain`
makes, so the printed stems add up to ``console render``'s mix sample for sample.
The session gets the audio after the effects Ardour cannot rebuild (none: the
dry stem), as one mono file per channel, the way Ardour keeps its own.
"""

from __future__ import annotations

from pathlib import Path

import attrs
import torch

from console.audio import read_audio, resample
from console.chain import EffectChain
from console.stereo import as_channels


@attrs.frozen
class RenderedTrack:
    """One track's session audio ``(C, T)`` and its printed stem ``(2, T)``, post-fader."""

    session: torch.Tensor
    printed: torch.Tensor


def read_track(path: str | Path, sample_rate: int, frames: int, channels: int = 1
               ) -> torch.Tensor:
    """A stem as ``console render`` reads it: ``(channels, frames)`` at ``sample_rate``.

    One channel is the average of a stereo file's two.
    """
    audio, rate = read_audio(path)
    track = resample(as_channels(audio, channels), rate, sample_rate)[:, :frames]
    return torch.nn.functional.pad(track, (0, frames - track.shape[-1]))


def render_track(
    chain: EffectChain, track: torch.Tensor, row: torch.Tensor, sample_rate: int,
    printed_count: int,
) -> RenderedTrack:
    """Run one track ``(C, T)`` (mono or stereo) through ``chain`` with its settings ``(P,)``.

    The session audio is taken after the first ``printed_count`` effects.
    """
    x = track[None]
    params = row[None].to(track)
    session = x[0]
    start = 0
    with torch.no_grad():
        for index, effect in enumerate(chain.effects):
            stop = start + effect.num_params
            x = effect(x, params[:, start:stop], sample_rate)
            start = stop
            if index + 1 == printed_count:
                session = x[0]
    if x.shape[1] == 1:  # as the chain does: a chain without a stereo stage sits in the centre
        x = x.expand(-1, 2, -1)
    return RenderedTrack(session=session.contiguous(), printed=x[0].contiguous())
