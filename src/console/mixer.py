"""The base class of whole mixing systems other than a console: baselines and end-to-end models.

A console predicts effect settings; a :class:`Mixer` only promises a stereo
mix, which is all that evaluation and training need. Mixers are registered
like effects (``register_mixers``), so ``console evaluate`` can compare a
console with ``mono`` or ``wave-u-net`` by name, and ``console train --mixer``
can train any mixer that has weights.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn

from console.atomic import atomic_write
from console.checkpoint_file import read_checkpoint, state_dict_of
from console.errors import CheckpointError, ConsoleError
from console.plugins import Plugins, get_plugins
from console.tracks import check_stems

MIXER_CHECKPOINT_FORMAT = "console-mixer-checkpoint"
MIXER_CHECKPOINT_VERSION = 1


class Mixer(nn.Module):
    """Turns stems ``(B, K, T)`` with a track mask ``(B, K)`` into mixes ``(B, 2, T)``.

    Subclasses set :attr:`name` and :attr:`description` and implement
    :meth:`mix`; :meth:`forward` has already checked the shapes and silenced
    the masked stems. A mixer with weights sets :attr:`trainable` and returns
    its constructor's keyword arguments from :meth:`options`, so that a
    checkpoint can rebuild it through the registry.
    """

    #: Registry name, e.g. ``"mono"``.
    name: ClassVar[str] = ""
    #: One sentence for ``console plugins`` and the docs.
    description: ClassVar[str] = ""
    #: Whether ``console train --mixer`` can train it.
    trainable: ClassVar[bool] = False
    #: Longest audio mixed in one call at inference; longer songs go in overlapping chunks.
    chunk_seconds: ClassVar[float | None] = None

    def forward(
        self, stems: torch.Tensor, mask: torch.Tensor | None = None, sample_rate: int = 44100
    ) -> torch.Tensor:
        stems, mask = check_stems(stems, mask)
        stems = stems * mask[..., None].to(stems.dtype)
        mix = self.mix(stems, mask, int(sample_rate))
        expected = (stems.shape[0], 2, stems.shape[2])
        if tuple(mix.shape) != expected:
            raise ConsoleError(
                f"The mixer {self.name!r} returned shape {tuple(mix.shape)} instead of "
                f"{expected}; report this to its authors."
            )
        return mix

    def mix(self, stems: torch.Tensor, mask: torch.Tensor, sample_rate: int) -> torch.Tensor:
        """Mix checked stems; masked stems are already silent."""
        raise NotImplementedError

    def options(self) -> dict[str, Any]:
        """Keyword arguments that rebuild this mixer (saved in its checkpoint)."""
        return {}

    # -- checkpoints -----------------------------------------------------------------

    def checkpoint(self) -> dict[str, Any]:
        return {
            "format": MIXER_CHECKPOINT_FORMAT,
            "format_version": MIXER_CHECKPOINT_VERSION,
            "mixer": self.name,
            "options": self.options(),
            "state_dict": {k: v.detach().cpu() for k, v in self.state_dict().items()},
            "versions": {"torch": str(torch.__version__)},
        }

    def save(self, path: str | Path) -> None:
        """Write a checkpoint atomically (a crash leaves any old file intact)."""
        atomic_write(path, lambda tmp: torch.save(self.checkpoint(), tmp))


def create_mixer(name: str, plugins: Plugins | None = None, **options: Any) -> Mixer:
    """A registered mixer by name, e.g. ``create_mixer("random", seed=3)``."""
    component = (plugins or get_plugins()).resolve("mixer", name)
    mixer = component.create(**options)
    if not isinstance(mixer, Mixer):
        raise ConsoleError(
            f"The mixer {component.name!r} from {component.plugin!r} did not build a "
            f"console.mixer.Mixer (got {type(mixer).__name__}); report this to its authors."
        )
    return mixer


def is_mixer_checkpoint(data: Any) -> bool:
    return isinstance(data, dict) and data.get("format") == MIXER_CHECKPOINT_FORMAT


def mixer_from_checkpoint(
    data: Any, source: str = "checkpoint", plugins: Plugins | None = None
) -> Mixer:
    """Rebuild a mixer from :meth:`Mixer.checkpoint` output, resolving it by name."""
    if not is_mixer_checkpoint(data):
        raise CheckpointError(f"{source} is not a mixer checkpoint.")
    if data.get("format_version") != MIXER_CHECKPOINT_VERSION:
        raise CheckpointError(
            f"{source} has mixer checkpoint format {data.get('format_version')!r}; this "
            f"console reads format {MIXER_CHECKPOINT_VERSION}. Upgrade the console package."
        )
    state = state_dict_of(data, source)
    mixer = create_mixer(data["mixer"], plugins, **dict(data.get("options") or {}))
    missing, unexpected = mixer.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise CheckpointError(
            f"{source} does not fit the mixer {data['mixer']!r}: missing weights "
            f"{missing[:5]}, unexpected weights {unexpected[:5]}."
        )
    return mixer


def load_mixer(path: str | Path, plugins: Plugins | None = None) -> Mixer:
    """Read a mixer checkpoint written by :meth:`Mixer.save`."""
    return mixer_from_checkpoint(read_checkpoint(path), source=str(path), plugins=plugins)


def mix_whole_song(
    mixer: Mixer, stems: torch.Tensor, sample_rate: int, overlap_seconds: float = 0.5
) -> torch.Tensor:
    """Mix one whole song ``(K, T)`` into ``(2, T)`` without gradients.

    A mixer with :attr:`Mixer.chunk_seconds` mixes long songs in chunks that
    overlap by ``overlap_seconds`` and are cross-faded linearly, so memory is
    bounded by one chunk while every second of the song is mixed.
    """
    with torch.no_grad():
        frames = stems.shape[-1]
        if mixer.chunk_seconds is None or frames <= mixer.chunk_seconds * sample_rate:
            return mixer(stems[None], None, sample_rate)[0]
        chunk = int(mixer.chunk_seconds * sample_rate)
        overlap = min(int(overlap_seconds * sample_rate), chunk // 2)
        hop = chunk - overlap
        out = stems.new_zeros(2, frames)
        weight = stems.new_zeros(frames)
        ramp = torch.linspace(0.0, 1.0, overlap + 2, dtype=stems.dtype)[1:-1]
        for start in range(0, frames, hop):
            end = min(start + chunk, frames)
            piece = mixer(stems[None, :, start:end], None, sample_rate)[0]
            fade = stems.new_ones(end - start)
            if start > 0:
                fade[: min(overlap, end - start)] = ramp[: min(overlap, end - start)]
            if end < frames:
                fade[-overlap:] = ramp.flip(0)
            out[:, start:end] += piece * fade
            weight[start:end] += fade
            if end == frames:
                break
        return out / weight.clamp_min(1e-8)
