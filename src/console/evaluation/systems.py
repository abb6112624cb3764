"""What ``--systems`` names: a registered mixer, a shipped console or a checkpoint on disk."""

from __future__ import annotations

import re
from pathlib import Path

import attrs
import torch

from console.checkpoint_file import read_checkpoint
from console.console import CHECKPOINT_FORMAT, Console
from console.errors import CheckpointError, ConsoleError, UnknownComponentError
from console.evaluation.songs import LoadedSong
from console.mixer import Mixer, create_mixer, is_mixer_checkpoint, mixer_from_checkpoint
from console.plugins import Plugins
from console.streaming import stream_mix

CHECKPOINT_SUFFIXES = (".pt", ".pth", ".ckpt")
#: Checkpoint names a training run always writes; the run's folder tells them apart.
_RUN_FILE_NAMES = ("console", "best", "mixer")


def safe_name(text: str, fallback: str) -> str:
    """``text`` with anything but letters, digits, ``.``, ``_`` and ``-`` turned into ``-``.

    Leading and trailing dots go too: ``..`` or a hidden name is no file or folder name to use.
    """
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.") or fallback


@attrs.frozen
class System:
    """A named way to mix a song: a trained console or a :class:`~console.mixer.Mixer`."""

    label: str
    model: Console | Mixer
    source: str

    @property
    def file_label(self) -> str:
        """The label made safe for a file name."""
        return safe_name(self.label, "system")

    def mix_song(self, song: LoadedSong) -> torch.Tensor:
        """The whole song mixed, ``(2, T)`` at the song's length."""
        from console.mixer import mix_whole_song

        model = self.model.eval()
        if isinstance(model, Console):
            mix, _ = stream_mix(model, song.song.stems, song.sample_rate)
        else:
            mix = mix_whole_song(model, song.stems, song.sample_rate)
        frames = song.mix.shape[-1]
        return torch.nn.functional.pad(mix[:, :frames], (0, max(0, frames - mix.shape[-1])))


def default_label(path: Path) -> str:
    """``runs/gp/best.pt`` becomes ``gp/best``; ``mine.pt`` becomes ``mine``."""
    return f"{path.parent.name}/{path.stem}" if path.stem in _RUN_FILE_NAMES else path.stem


def load_system(text: str, plugins: Plugins | None = None) -> System:
    """``"mono"``, ``"gain+pan"`` (shipped), ``"run/best.pt"`` or ``"label=run/best.pt"``.

    A file comes first, then a shipped console (as ``console train --init``
    finds them), then a registered mixer.
    """
    from console.pretrained import available, is_shipped, load_pretrained

    label, _, target = text.rpartition("=")
    target = target.strip()
    if not target:
        raise ConsoleError(f"The system {text!r} is empty; give a mixer name or a checkpoint.")
    path = Path(target)
    if path.suffix in CHECKPOINT_SUFFIXES or path.exists():
        return System(label or default_label(path), _load_checkpoint(path, plugins), str(path))
    if is_shipped(target):
        return System(label or target, load_pretrained(target), f"the shipped {target} console")
    try:
        mixer = create_mixer(target, plugins)
    except UnknownComponentError as exc:
        shipped = ", ".join(available()) or "none"
        raise UnknownComponentError(
            f"{exc} A system may also be a checkpoint file or a shipped console ({shipped})."
        ) from exc
    return System(label or target, mixer, f"mixer {target}")


def _load_checkpoint(path: Path, plugins: Plugins | None) -> Console | Mixer:
    data = read_checkpoint(path)
    if is_mixer_checkpoint(data):
        return mixer_from_checkpoint(data, source=str(path), plugins=plugins)
    if isinstance(data, dict) and data.get("format") == CHECKPOINT_FORMAT:
        return Console.from_checkpoint(data, source=str(path), plugins=plugins)
    raise CheckpointError(
        f"{path} is neither a console nor a mixer checkpoint; give the console.pt, "
        f"mixer.pt or best.pt that `console train` wrote."
    )
