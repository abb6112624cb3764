"""Training a console: predict settings, mix, compare with the reference mix."""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from console.console import Console
from console.data.song import Song
from console.errors import ConsoleError
from console.losses.base import Loss

#: The weights ``console train`` uses unless told otherwise, chosen on validation data in
#: round 4 (see the generalisation page): level 8 and pan 64 gave the lowest level error
#: (1.80 dB against 1.84 with 2 and 16, 2.44 with none), an effect weight only made a
#: full chain worse. :meth:`MixingTask.recommended` applies them.
RECOMMENDED_WEIGHTS = {"pan_weight": 64.0, "level_weight": 8.0, "effect_weight": 0.0}


class MixingTask:
    """The console's training objective: ``loss(console(stems).mix, reference mix)``.

    Effects with weights of their own (neural emulators) are frozen unless
    ``train_effects`` is set, as in the paper; the encoder trains unless
    ``freeze_encoder`` is set (useful with pretrained VGGish weights).

    ``pan_weight`` adds, for songs whose reference pans are known, the pan
    error times the weight. A mix and its mirror image are equally right
    (engineers pan drums from either side), so for a console with balanced
    pans, which chooses the sides itself, the error is each track's distance
    from the centre against the reference's; for one that predicts positions
    (``pan="free"``) it is each song's mean position error against the
    reference or its mirror image, whichever is closer, so the sides of a
    song's tracks are learnt relative to each other.

    ``level_weight`` adds, for songs whose reference faders are known, the
    mean absolute error in dB of each track's level relative to its song's
    other tracks, times the weight. Relative: a mix's overall level is the
    master stage's business, only the balance between tracks is a decision.

    ``effect_weight`` adds, for every other setting the reference records
    (a full chain's EQ, compressor and reverb), the mean absolute error of the
    normalised settings (each in ``[0, 1]`` by its ParamSpec), times the weight.

    The reference settings arrive as the batch's ``targets`` ``(B, K, P)`` in
    the console's columns; see :mod:`console.data.reference_decisions`.

    Once told the songs (:meth:`know_songs`), training measures what ``console
    mix`` measures on whole tracks, once per stem: each track's input trim comes
    from its whole-song loudness, not the segment's (a segment where a part
    rests or peaks would otherwise shift the fader the engineer's balance asks
    for, noise no network can predict from audio it hears at one loudness); and
    a frozen encoder (a pretrained tagger, or ``freeze_encoder``) hears each
    track whole, so a slow encoder costs one pass over the data.
    """

    def __init__(
        self,
        console: Console,
        loss: Loss,
        sample_rate: int,
        freeze_encoder: bool = False,
        train_effects: bool = False,
        pan_weight: float = 0.0,
        level_weight: float = 0.0,
        effect_weight: float = 0.0,
    ) -> None:
        self.model = console
        self.loss_fn = loss
        self.sample_rate = int(sample_rate)
        self.freeze_encoder = freeze_encoder
        self.train_effects = train_effects
        for name, weight in (("pan_weight", pan_weight), ("level_weight", level_weight),
                             ("effect_weight", effect_weight)):
            if not (weight >= 0.0 and math.isfinite(weight)):
                raise ValueError(f"{name} must be a finite number >= 0, got {weight}.")
        self.pan_column = _column(console, "pan", "pan")
        if pan_weight and self.pan_column is None:
            raise ConsoleError(f"A pan weight needs a pan in the chain; {console.spec} has none.")
        self.gain_column = _column(console, "gain", "gain_db")
        if level_weight and self.gain_column is None:
            raise ConsoleError(
                f"A level weight needs a gain in the chain; {console.spec} has none."
            )
        self.effect_columns = [s.index for s in console.layout
                               if s.index not in (self.pan_column, self.gain_column)]
        if effect_weight and not self.effect_columns:
            raise ConsoleError(
                f"An effect weight needs an effect with settings besides gain and pan; "
                f"{console.spec} has none."
            )
        self.pan_weight = float(pan_weight)
        self.level_weight = float(level_weight)
        self.effect_weight = float(effect_weight)
        console.encoder.requires_grad_(not freeze_encoder)
        console.chain.requires_grad_(train_effects)
        self._stems: dict[tuple[str, str], Path] = {}
        self._heard: dict[tuple[Path, bool], torch.Tensor] = {}
        self._trim_cache: dict[tuple[Path, bool], float] = {}

    @classmethod
    def recommended(
        cls, console: Console, sample_rate: int, loss: Loss | None = None
    ) -> MixingTask:
        """The objective ``console train`` trains ``console`` with by default.

        The paper's stereo loss (unless ``loss``) and :data:`RECOMMENDED_WEIGHTS`,
        each weight only where the chain has what it holds (a level weight needs
        a gain, an effect weight settings besides gain and pan).
        """
        from console.losses.stereo import StereoSTFTLoss

        weights = dict(RECOMMENDED_WEIGHTS)
        families = {slot.effect_key for slot in console.layout}
        if "pan" not in families:
            weights["pan_weight"] = 0.0
        if "gain" not in families:
            weights["level_weight"] = 0.0
        if not families - {"gain", "pan"}:
            weights["effect_weight"] = 0.0
        return cls(console, loss or StereoSTFTLoss(), sample_rate, **weights)

    @property
    def hears_whole_tracks(self) -> bool:
        """Whether the encoder is frozen, so each track's embedding can be heard once, whole."""
        return not any(p.requires_grad for p in self.model.encoder.parameters()) and not hasattr(
            self.model.encoder, "tell")

    def know_songs(self, songs: Iterable[Song]) -> None:
        """The songs batches come from, so their stems can be measured (and heard) whole."""
        for song in songs:
            for name, path in zip(song.stem_names, song.stems, strict=True):
                self._stems[(song.name, name)] = Path(path)

    def _paths(self, batch: Any) -> list[Path] | None:
        """The file of each unmasked track of the batch, or ``None`` if a song is unknown."""
        if not self._stems:
            return None
        mask = batch.mask.detach().cpu().tolist()
        paths = []
        for song, names, valid in zip(batch.songs, batch.names, mask, strict=True):
            for name, keep in zip(names, valid, strict=False):
                if keep:
                    path = self._stems.get((song, name))
                    if path is None:
                        return None  # a song nobody told us of: measure its segments
                    paths.append(path)
        return paths

    def _trims(self, paths: list[Path] | None, device: torch.device, mono: bool = True
               ) -> torch.Tensor | None:
        """Whole-track input trims ``(M,)`` of the batch's tracks, or ``None``.

        ``mono``: of the stems averaged to mono, as a dataset without ``stereo`` reads them;
        else a stereo stem's of both channels, as ``console mix`` measures it.
        """
        if paths is None:
            return None
        from console.streaming import track_trim_db

        for path in paths:
            if (path, mono) not in self._trim_cache:
                self._trim_cache[(path, mono)] = track_trim_db(path, self.sample_rate, mono=mono)
        return torch.tensor([self._trim_cache[(p, mono)] for p in paths], device=device)

    def _embeddings(self, paths: list[Path] | None, device: torch.device, mono: bool = True
                    ) -> torch.Tensor | None:
        """Whole-track embeddings from a frozen encoder, or ``None`` to encode segments."""
        if paths is None or not self.hears_whole_tracks or device.type != "cpu":
            return None  # (listening reads files on the CPU)
        from console.streaming import listen_to_file

        self.model.encoder.eval()  # frozen: it hears as it will in use
        for path in paths:
            if (path, mono) not in self._heard:
                with torch.no_grad():
                    embedding, _ = listen_to_file(self.model, path, self.sample_rate, mono=mono)
                self._heard[(path, mono)] = embedding[0].detach()
        return torch.stack([self._heard[(p, mono)] for p in paths])

    @property
    def wants_targets(self) -> bool:
        """Whether batches should carry the reference settings (see :meth:`target_layout`)."""
        return self.pan_weight > 0.0 or self.level_weight > 0.0 or self.effect_weight > 0.0

    @property
    def target_layout(self) -> list | None:
        """The columns batches should carry reference settings in, or ``None``."""
        return self.model.layout if self.wants_targets else None

    def loss(self, model: nn.Module, batch: Any) -> torch.Tensor:
        tell_roles(model, batch)
        if not any(p.requires_grad for p in self.model.encoder.parameters()):
            self.model.encoder.eval()  # a frozen encoder hears as it will in use: no dropout
        paths = self._paths(batch)
        stereo = getattr(batch, "stereo", None)  # stereo tracks: heard and trimmed as such
        mono = stereo is None
        result = model(batch.stems, batch.mask, sample_rate=self.sample_rate,
                       embeddings=self._embeddings(paths, batch.stems.device, mono),
                       trims=self._trims(paths, batch.stems.device, mono), stereo=stereo)
        loss = self.loss_fn(result.mix, batch.mix)
        targets = getattr(batch, "targets", None)
        if targets is None:
            return loss
        params = result.params
        if self.pan_weight:
            measure = (pan_position_error if self.model.decisions.pan == "free"
                       else pan_distance_error)
            error = measure(params[..., self.pan_column], targets[..., self.pan_column],
                            batch.mask)
            if error is not None:
                loss = loss + self.pan_weight * error
        if self.level_weight:
            error = relative_level_error(params[..., self.gain_column],
                                         targets[..., self.gain_column], batch.mask)
            if error is not None:
                loss = loss + self.level_weight * error
        if self.effect_weight:
            error = settings_error(result.normalised, targets, self.model.layout,
                                   self.effect_columns, batch.mask)
            if error is not None:
                loss = loss + self.effect_weight * error
        return loss

    def describe(self) -> dict[str, Any]:
        console = self.model
        return {
            "name": f"console {console.spec}",
            "spec": console.spec,
            "encoder": console.encoder_name,
            "encoder_options": dict(console.encoder_options),
            "hidden": console.hidden,
            "post_processor": console.post_processor_kind,
            "decisions": console.decisions.to_dict(),
            "sample_rate": self.sample_rate,
            "loss": self.loss_fn.name,
            "freeze_encoder": self.freeze_encoder,
            "train_effects": self.train_effects,
            "pan_weight": self.pan_weight,
            "level_weight": self.level_weight,
            "effect_weight": self.effect_weight,
        }

    def export(self, out_dir: Path, best: bool) -> None:
        self.model.save(out_dir / ("best.pt" if best else "console.pt"))


def tell_roles(model: nn.Module, batch: Any) -> None:
    """Tell an encoder that is told roles (the diagnostic ``told-roles``) the batch's roles.

    In the order the console encodes its rows: every unmasked track, song by song.
    """
    encoder = getattr(model, "encoder", None)
    if not hasattr(encoder, "tell"):
        return
    mask = batch.mask.detach().cpu().tolist()
    encoder.tell([role for roles, valid in zip(batch.roles, mask, strict=True)
                  for role, keep in zip(roles, valid, strict=False) if keep])


def _column(console: Console, family: str, name: str) -> int | None:
    return next((s.index for s in console.layout
                 if s.effect_key == family and s.spec.name == name), None)


def pan_distance_error(
    pans: torch.Tensor, reference: torch.Tensor, mask: torch.Tensor
) -> torch.Tensor | None:
    """Mean ``| |pan| - |reference| |`` over tracks whose reference is known, else ``None``."""
    known = torch.isfinite(reference) & mask
    if not known.any():
        return None
    return (pans.abs() - reference.nan_to_num(0.0).abs()).abs()[known].mean()


def pan_position_error(
    pans: torch.Tensor, reference: torch.Tensor, mask: torch.Tensor
) -> torch.Tensor | None:
    """Mean over songs of ``min(mean|p - r|, mean|p + r|)`` over known tracks, else ``None``.

    The benchmark's pan error: a song's field or its mirror image, whichever is closer.
    """
    known = torch.isfinite(reference) & mask
    songs = known.any(-1)
    if not songs.any():
        return None
    weights = known.to(pans.dtype)
    target = reference.nan_to_num(0.0)
    counts = weights.sum(-1).clamp(min=1)
    same = ((pans - target).abs() * weights).sum(-1) / counts
    mirrored = ((pans + target).abs() * weights).sum(-1) / counts
    return torch.minimum(same, mirrored)[songs].mean()


def settings_error(
    normalised: torch.Tensor, targets: torch.Tensor, layout: list, columns: list[int],
    mask: torch.Tensor,
) -> torch.Tensor | None:
    """Mean ``|normalised - normalise(target)|`` over ``columns`` where targets are known.

    ``normalised`` ``(B, K, P)`` are the console's outputs in ``[0, 1]``; targets are
    physical, clamped to each setting's range and normalised by its ParamSpec.
    """
    errors = []
    for column in columns:
        target = targets[..., column]
        known = torch.isfinite(target) & mask
        if not known.any():
            continue
        spec = layout[column].spec
        clamped = target[known].clamp(spec.minimum, spec.maximum)
        errors.append((normalised[..., column][known] - spec.normalise(clamped)).abs())
    if not errors:
        return None
    return torch.cat(errors).mean()


def relative_level_error(
    gains_db: torch.Tensor, reference_db: torch.Tensor, mask: torch.Tensor
) -> torch.Tensor | None:
    """Mean absolute error (dB) of each track's fader relative to its song's other tracks.

    ``gains_db`` and ``reference_db`` are ``(B, K)`` faders of the same stems, so a
    track's post-fader level differs from the reference's by exactly the fader
    difference; removing each song's mean difference leaves what the mix loss can
    see (it compares mixes at equal loudness). Songs with fewer than two known
    tracks carry no balance and are skipped; ``None`` if none is left.
    """
    known = torch.isfinite(reference_db) & mask
    counts = known.sum(-1)
    songs = counts >= 2
    if not songs.any():
        return None
    weights = known.to(gains_db.dtype)
    difference = (gains_db - reference_db.nan_to_num(0.0)) * weights
    mean = difference.sum(-1, keepdim=True) / counts.clamp(min=1)[:, None]
    errors = ((difference - mean).abs() * weights)[songs]
    return errors.sum() / weights[songs].sum()

