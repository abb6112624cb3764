"""Tracks of a batch: validating stems and a mask, and working on the valid rows only.

Every module that mixes a ``(B, K, T)`` batch (the console, the mixers, the
baselines) flattens its valid tracks to ``(M, T)`` rows the same way; this is
that one way.
"""

from __future__ import annotations

import torch

from console.errors import AudioInputError


def check_stems(
    stems: torch.Tensor, mask: torch.Tensor | None, stereo: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """Validate ``(B, K, T)`` stems and a ``(B, K)`` mask (all tracks valid when ``None``).

    With ``stereo``, ``(B, K, 2, T)`` stems (stereo tracks, and mono ones on both
    sides) are accepted too.
    """
    if not isinstance(stems, torch.Tensor):
        raise AudioInputError(
            "Stems must be one (batch, tracks, samples) tensor; pad stems of different "
            "lengths to one length (console.audio.load_stems does this) and pass a mask."
        )
    if stereo and stems.dim() == 4 and stems.shape[2] == 2:
        pass
    elif not stereo and stems.dim() == 4 and stems.shape[2] in (1, 2):
        raise AudioInputError(
            f"This mixer takes mono stems (batch, tracks, samples), got shape "
            f"{tuple(stems.shape)}; load them with load_stems(..., stereo=False)."
        )
    elif stems.dim() != 3:
        raise AudioInputError(
            f"Stems must be a (batch, tracks, samples) tensor"
            f"{', or (batch, tracks, 2, samples) with stereo tracks' if stereo else ''}, got "
            f"shape {tuple(stems.shape)}."
        )
    if stems.shape[1] == 0:
        raise AudioInputError("There are no stems to mix; give at least one track.")
    if stems.shape[-1] == 0:
        raise AudioInputError("The stems are empty (zero samples).")
    if mask is None:
        mask = torch.ones(stems.shape[:2], dtype=torch.bool, device=stems.device)
    mask = mask.to(device=stems.device, dtype=torch.bool)
    if mask.shape != stems.shape[:2]:
        raise AudioInputError(
            f"The track mask must be (batch, tracks) = {tuple(stems.shape[:2])}, "
            f"got {tuple(mask.shape)}."
        )
    if not bool(mask.any(dim=1).all()):
        raise AudioInputError("Every song in the batch needs at least one unmasked stem.")
    return stems, mask


def valid_rows(stems: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Valid tracks as ``(M, T)`` (or ``(M, 2, T)``) rows and the batch item of each row."""
    batch_index = torch.arange(stems.shape[0], device=stems.device)[:, None].expand_as(mask)
    return stems[mask], batch_index[mask]


def masked_mean(rows: torch.Tensor, batch_index: torch.Tensor, batch_size: int) -> torch.Tensor:
    """Mean of the rows of each batch item (the console's context vector)."""
    total = rows.new_zeros(batch_size, rows.shape[-1]).index_add(0, batch_index, rows)
    count = torch.bincount(batch_index, minlength=batch_size).clamp(min=1).to(rows)
    return total / count[:, None]
