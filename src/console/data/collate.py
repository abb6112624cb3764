"""One training example, and batching songs with different numbers of stems.

Songs have different stem counts K, so a batch pads K to its largest and
carries a track mask: padded tracks are silent and ``mask`` is ``False``
there, which the console uses to leave them out.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs
import numpy as np
import torch


@attrs.frozen
class Example:
    """One segment of one song: ``stems (K, T)``, stereo ``mix (2, T)``.

    A song with stereo tracks has ``stems (K, 2, T)`` (its mono tracks on both sides)
    and ``stereo`` saying which are stereo.
    """

    stems: torch.Tensor
    mix: torch.Tensor
    names: tuple[str, ...]
    roles: tuple[str, ...]
    song: str
    start: int
    #: ``(K, P)`` the reference mix's settings in the console's columns (``nan`` where
    #: unknown), when the song says (see :mod:`console.data.reference_decisions`).
    targets: torch.Tensor | None = None
    #: Which tracks are stereo, for ``stems (K, 2, T)``; ``None``: every track mono.
    stereo: tuple[bool, ...] | None = None


@attrs.frozen
class Batch:
    """``stems (B, K, T)``, ``mask (B, K)`` bool, ``mix (B, 2, T)`` and what each row is.

    When an example has stereo tracks, ``stems`` is ``(B, K, 2, T)`` (mono tracks on
    both sides) and ``stereo (B, K)`` says which tracks are stereo.
    """

    stems: torch.Tensor
    mask: torch.Tensor
    mix: torch.Tensor
    names: list[list[str]]
    roles: list[list[str]]
    songs: list[str]
    starts: torch.Tensor
    #: ``(B, K, P)`` reference settings, ``nan`` where unknown or padded; ``None`` if no
    #: song knew.
    targets: torch.Tensor | None = None
    #: ``(B, K)`` the stereo tracks, with ``stems (B, K, 2, T)``; ``None``: all mono.
    stereo: torch.Tensor | None = None

    def to(self, device: torch.device | str) -> Batch:
        """The tensors moved to ``device`` (the labels stay as they are)."""
        return attrs.evolve(
            self,
            stems=self.stems.to(device),
            mask=self.mask.to(device),
            mix=self.mix.to(device),
            starts=self.starts.to(device),
            targets=None if self.targets is None else self.targets.to(device),
            stereo=None if self.stereo is None else self.stereo.to(device),
        )

    def pin_memory(self) -> Batch:
        """Called by ``DataLoader(pin_memory=True)``."""
        return attrs.evolve(
            self,
            stems=self.stems.pin_memory(),
            mask=self.mask.pin_memory(),
            mix=self.mix.pin_memory(),
            starts=self.starts.pin_memory(),
            targets=None if self.targets is None else self.targets.pin_memory(),
            stereo=None if self.stereo is None else self.stereo.pin_memory(),
        )

    def __len__(self) -> int:
        return self.stems.shape[0]


def collate_examples(examples: Sequence[Example]) -> Batch:
    """Stack examples into a :class:`Batch`, padding the stem axis with masked silence."""
    if not examples:
        raise ValueError("Cannot collate an empty list of examples.")
    lengths = {e.stems.shape[-1] for e in examples} | {e.mix.shape[-1] for e in examples}
    if len(lengths) != 1:
        raise ValueError(f"Examples of one batch must have one length, got {sorted(lengths)}.")
    (frames,) = lengths
    tracks = max(e.stems.shape[0] for e in examples)
    wide = any(e.stems.dim() == 3 for e in examples)
    # Filled through numpy: large torch copies are slow when DataLoader workers
    # compete for the CPU's threads.
    stems = np.zeros((len(examples), tracks, *((2,) if wide else ()), frames), dtype=np.float32)
    mask = np.zeros((len(examples), tracks), dtype=bool)
    stereo = np.zeros((len(examples), tracks), dtype=bool)
    targets = _targets([e.targets for e in examples], tracks)
    for b, example in enumerate(examples):
        k = example.stems.shape[0]
        audio = example.stems.detach().cpu().numpy()
        stems[b, :k] = audio[:, None] if wide and audio.ndim == 2 else audio
        mask[b, :k] = True
        if example.stereo is not None:
            stereo[b, :k] = example.stereo
    return Batch(
        stems=torch.from_numpy(stems),
        mask=torch.from_numpy(mask),
        mix=torch.from_numpy(np.stack([e.mix.detach().cpu().numpy() for e in examples])),
        names=[list(e.names) for e in examples],
        roles=[list(e.roles) for e in examples],
        songs=[e.song for e in examples],
        starts=torch.tensor([e.start for e in examples], dtype=torch.long),
        targets=None if targets is None else torch.from_numpy(targets),
        stereo=torch.from_numpy(stereo) if wide else None,
    )


def _targets(rows: Sequence[torch.Tensor | None], tracks: int) -> np.ndarray | None:
    """``(B, tracks, P)`` per-track targets padded with ``nan``, or ``None`` if none has any."""
    known = [r for r in rows if r is not None]
    if not known:
        return None
    out = np.full((len(rows), tracks, known[0].shape[-1]), np.nan, dtype=np.float32)
    for b, row in enumerate(rows):
        if row is not None:
            out[b, : row.shape[0]] = row.detach().cpu().numpy()
    return out
