"""A chain of effects applied to every track, and the masked sum into a mix."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from console.effect import Effect
from console.errors import ConsoleError
from console.mix_params import MixParams, ParamSlot, param_layout
from console.params import denormalise_columns
from console.plugins import Plugins
from console.spec import build_chain
from console.stereo import stereo_rows


class EffectChain(nn.Module):
    """The transformation chain of a console strip, shared by every track.

    Parameters are one ``(M, P)`` tensor whose columns follow :attr:`layout`
    (the effects' ParamSpecs in chain order). Rendering needs no network, so
    an edited ``params.json`` re-renders with only this.
    """

    def __init__(self, effects: Sequence[Effect], spec_items: Sequence[str]) -> None:
        super().__init__()
        if len(effects) != len(spec_items):
            raise ValueError("effects and spec_items must have the same length.")
        self.effects = nn.ModuleList(effects)
        self.spec_items = list(spec_items)
        self.layout: list[ParamSlot] = param_layout(self.spec_items, effects)
        bounds = [0]
        for effect in effects:
            bounds.append(bounds[-1] + effect.num_params)
        self._columns = list(zip(bounds[:-1], bounds[1:], strict=True))

    @classmethod
    def from_spec(cls, spec: str, plugins: Plugins | None = None) -> EffectChain:
        return cls(*build_chain(spec, plugins))

    @property
    def spec(self) -> str:
        """The resolved spec string, naming the variant of every effect."""
        return "+".join(self.spec_items)

    @property
    def num_params(self) -> int:
        return len(self.layout)

    def denormalise(self, normalised: torch.Tensor) -> torch.Tensor:
        """``(..., P)`` values in ``[0, 1]`` to physical units."""
        if not self.layout:
            return normalised
        return denormalise_columns([slot.spec for slot in self.layout], normalised)

    def defaults(self) -> torch.Tensor:
        """``(P,)`` physical defaults."""
        return torch.tensor([slot.spec.default for slot in self.layout], dtype=torch.float32)

    def to_tensor(self, params: MixParams) -> torch.Tensor:
        """``(K, P)`` physical parameters from a :class:`MixParams` checked against this chain."""
        return params.to_tensor(self.layout)

    def stereo_problem(self) -> str | None:
        """Why this chain cannot process a stereo track, or ``None`` when it can.

        Effects declare what they take through :meth:`Effect.output_channels`.
        """
        channels = 2
        for item, effect in zip(self.spec_items, self.effects, strict=True):
            try:
                channels = effect.output_channels(channels)
            except ValueError as exc:
                return f"the effect {item!r} takes no stereo input ({exc})"
        return None

    def _run(self, x: torch.Tensor, params: torch.Tensor, sample_rate: int) -> torch.Tensor:
        """Tracks ``(M, C, T)`` of one channel count through every effect, to ``(M, 2, T)``."""
        if x.shape[1] == 2:
            problem = self.stereo_problem()
            if problem is not None:
                raise ConsoleError(
                    f"The chain {self.spec!r} cannot mix stereo tracks: {problem}; mix the "
                    f"stems as mono (stereo=False, `console mix --mono`) or use an effect "
                    f"that takes stereo."
                )
        for effect, (lo, hi) in zip(self.effects, self._columns, strict=True):
            x = effect(x, params[:, lo:hi], sample_rate)
        if x.shape[1] == 1:  # a chain without a stereo stage sits in the centre
            x = x.expand(-1, 2, -1)
        return x

    def forward(
        self,
        tracks: torch.Tensor,
        params: torch.Tensor,
        sample_rate: int,
        stereo: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Tracks with ``(M, P)`` physical parameters to ``(M, 2, T)``.

        ``tracks`` are mono ``(M, T)``, or ``(M, 2, T)`` where ``stereo`` ``(M,)`` says
        which rows are stereo tracks (by default those whose channels differ); the
        other rows are mono tracks, the mean of their channels. Each kind runs
        through the chain as itself: a mono track is panned, a stereo one balanced.
        """
        if tracks.dim() == 2:
            return self._run(tracks[:, None, :], params, sample_rate)
        if tracks.dim() != 3 or tracks.shape[1] != 2:
            raise ValueError(
                f"Tracks must be (M, T) or (M, 2, T), got shape {tuple(tracks.shape)}."
            )
        stereo = stereo_rows(tracks) if stereo is None else stereo.to(tracks.device, torch.bool)
        if bool(stereo.all()):
            return self._run(tracks, params, sample_rate)
        if not bool(stereo.any()):
            return self._run(tracks.mean(dim=1, keepdim=True), params, sample_rate)
        mono_index = (~stereo).nonzero()[:, 0]
        stereo_index = stereo.nonzero()[:, 0]
        mono = self._run(tracks[mono_index].mean(dim=1, keepdim=True), params[mono_index],
                         sample_rate)
        wide = self._run(tracks[stereo_index], params[stereo_index], sample_rate)
        out = tracks.new_zeros(tracks.shape[0], 2, tracks.shape[-1]).to(mono.dtype)
        return out.index_copy(0, mono_index, mono).index_copy(0, stereo_index, wide)

    def mix(
        self,
        tracks: torch.Tensor,
        params: torch.Tensor,
        batch_index: torch.Tensor,
        batch_size: int,
        sample_rate: int,
        stereo: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Process ``(M, T)`` or ``(M, 2, T)`` tracks; sum those of each song into ``(B, 2, T)``."""
        out = self(tracks, params, sample_rate, stereo)
        mix = out.new_zeros(batch_size, out.shape[1], out.shape[2])
        return mix.index_add(0, batch_index, out)
