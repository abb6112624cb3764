"""How a console turns its network's outputs into fader and pan settings.

Two measured failures shaped this module:

* A console that predicts absolute gains from the waveform is thrown off by
  stems recorded at other levels. With ``level="loudness"`` every track is
  first measured (integrated loudness, ITU-R BS.1770), the encoder hears it at
  :data:`REFERENCE_LUFS`, and the network predicts only the deviation from
  that level. The fader then holds the trim plus the deviation, so an
  untrained console already mixes every stem equally loud, a stem recorded
  20 dB hotter gets exactly 20 dB less gain, and nothing else changes.
* A console trained with a mirror-invariant loss settles on one side (almost
  every track panned right). With ``pan="balanced"`` the network predicts only
  how far from the centre a track sits; the side is chosen per song by
  balancing the stereo field, widest track first, each on the side that is
  lighter so far. No side is preferred by construction.

``level="absolute"`` and ``pan="free"`` are the paper's direct prediction,
kept for consoles trained that way.
"""

from __future__ import annotations

from typing import Literal

import attrs
import torch

from console.chain import EffectChain
from console.data.loudness import track_loudness

#: The level at which the encoder hears every track, and where a zero deviation leaves it.
REFERENCE_LUFS = -27.0
#: The largest change the network can make to the equal-loudness gain.
MAX_DEVIATION_DB = 24.0
#: Tracks quieter than this (BS.1770's absolute gate) count as silence and get no trim.
SILENCE_LUFS = -70.0

Level = Literal["absolute", "loudness"]
PanMode = Literal["free", "balanced"]


@attrs.frozen
class Decisions:
    """Which parameterisation a console uses for its level and stereo decisions."""

    level: Level = attrs.field(
        default="absolute", validator=attrs.validators.in_(("absolute", "loudness"))
    )
    pan: PanMode = attrs.field(
        default="free", validator=attrs.validators.in_(("free", "balanced"))
    )

    @classmethod
    def generalising(cls) -> Decisions:
        """What new consoles use: loudness-relative gains, pans with no preferred side."""
        return cls(level="loudness", pan="balanced")

    def to_dict(self) -> dict[str, str]:
        return {"level": self.level, "pan": self.pan}

    @classmethod
    def from_dict(cls, data: object) -> Decisions:
        if data is None:
            return cls()  # checkpoints from before this option predicted both directly
        if not isinstance(data, dict) or set(data) - {"level", "pan"}:
            raise ValueError(f"decisions must be a mapping with 'level' and 'pan', got {data!r}")
        return cls(**data)


def input_trim_db(
    rows: torch.Tensor, sample_rate: int, stereo: torch.Tensor | None = None
) -> torch.Tensor:
    """``(M,)`` gain in dB that brings each track to :data:`REFERENCE_LUFS`.

    ``rows`` are mono ``(M, T)``, or ``(M, 2, T)`` where ``stereo`` ``(M,)`` marks the
    stereo tracks (measured on both channels, as BS.1770 does; the others are mono
    tracks on both sides, measured once). Silent rows get 0 dB. No gradient flows:
    a trim is a measurement of the input.
    """
    with torch.no_grad():
        lufs = track_loudness(rows.detach(), sample_rate, stereo)
        return trim_db_from_lufs(lufs).to(rows.dtype)


def trim_db_from_lufs(lufs: torch.Tensor) -> torch.Tensor:
    """The input trim of tracks measured at ``lufs``: to :data:`REFERENCE_LUFS`, 0 if silent."""
    audible = torch.isfinite(lufs) & (lufs > SILENCE_LUFS)
    return torch.where(audible, REFERENCE_LUFS - lufs, torch.zeros_like(lufs))


def _first_slot(chain: EffectChain, family: str, param: str) -> int | None:
    for slot in chain.layout:
        if slot.effect_key == family and slot.spec.name == param:
            return slot.index
    return None


def balanced_sides(
    width: torch.Tensor, batch_index: torch.Tensor, batch_size: int, first: torch.Tensor
) -> torch.Tensor:
    """``(M,)`` signs ``±1`` that balance each song's stereo field.

    Tracks are placed widest first, each on the side whose summed width is
    smaller; ``first`` ``(B,)`` is the side of each song's widest track (used
    while the field is still level). Ties in width keep the tracks' order.
    """
    signs = torch.ones_like(width)
    widths = width.detach().cpu().tolist()
    songs = batch_index.detach().cpu().tolist()
    starts = first.detach().cpu().tolist()
    moments = [0.0] * batch_size
    for m in sorted(range(len(widths)), key=lambda i: -widths[i]):
        b = songs[m]
        side = starts[b] if moments[b] == 0.0 else (-1.0 if moments[b] > 0 else 1.0)
        signs[m] = side
        moments[b] += side * widths[m]
    return signs


class DecisionHead:
    """Applies :class:`Decisions` to a chain's normalised outputs (holds no weights)."""

    def __init__(self, chain: EffectChain, decisions: Decisions) -> None:
        self.chain = chain
        self.decisions = decisions
        self.gain_column = (
            _first_slot(chain, "gain", "gain_db") if decisions.level == "loudness" else None
        )
        self.pan_column = _first_slot(chain, "pan", "pan") if decisions.pan == "balanced" else None
        self.balance_column = _first_slot(chain, "pan", "pan")

    @property
    def hears_trimmed(self) -> bool:
        """Whether the encoder should hear every track at the reference loudness."""
        return self.decisions.level == "loudness"

    def physical(
        self,
        normalised: torch.Tensor,
        trim_db: torch.Tensor,
        batch_index: torch.Tensor,
        batch_size: int,
        context: torch.Tensor,
        stereo: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``(M, P)`` physical settings from ``(M, P)`` outputs in ``[0, 1]``.

        ``stereo`` ``(M,)`` marks stereo tracks, whose balance stays at 0: their recorded
        image. Consoles learn pans on mono tracks; applied as balances they moved stereo
        tracks 0.37 from where the engineer keeps them, against 0.08 for keeping the image
        (the shipped gain+pan console on the validation songs with stereo stems,
        docs/stereo.rst). Their width is then 0, so they leave the balancing of the mono
        tracks' sides alone.
        """
        if stereo is not None and self.balance_column is not None and bool(stereo.any()):
            normalised = normalised.clone()
            normalised[stereo.to(normalised.device), self.balance_column] = 0.5  # centre
        physical = self.chain.denormalise(normalised)
        columns = list(physical.unbind(-1))
        if self.gain_column is not None:
            spec = self.chain.layout[self.gain_column].spec
            deviation = (2.0 * normalised[:, self.gain_column] - 1.0) * MAX_DEVIATION_DB
            gain = trim_db.to(deviation) + deviation
            columns[self.gain_column] = gain.clamp(spec.minimum, spec.maximum)
        if self.pan_column is not None:
            width = (2.0 * normalised[:, self.pan_column] - 1.0).abs()
            first = side_of_first(context)
            columns[self.pan_column] = balanced_sides(width, batch_index, batch_size, first) * width
        return torch.stack(columns, dim=-1) if columns else physical


def side_of_first(context: torch.Tensor) -> torch.Tensor:
    """``(B,)`` ``±1`` from each song's context embedding, with no preferred side.

    The sign of an alternating sum of the embedding: a fixed function of the
    song's content (so a song always mixes the same way, whatever the order
    of its stems) that is as often positive as negative across songs.
    """
    pattern = torch.ones(context.shape[-1], dtype=context.dtype, device=context.device)
    pattern[1::2] = -1.0
    score = (context.detach() * pattern).sum(-1)
    return torch.where(score >= 0, 1.0, -1.0).to(context.dtype)

