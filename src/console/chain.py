"""A chain of effects applied to every track, and the masked sum into a mix."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from console.effect import Effect
from console.mix_params import MixParams, ParamSlot, param_layout
from console.params import denormalise_columns
from console.plugins import Plugins
from console.spec import build_chain


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

    def forward(self, tracks: torch.Tensor, params: torch.Tensor, sample_rate: int) -> torch.Tensor:
        """Mono tracks ``(M, T)`` with ``(M, P)`` physical parameters to ``(M, 2, T)``."""
        x = tracks[:, None, :]
        for effect, (lo, hi) in zip(self.effects, self._columns, strict=True):
            x = effect(x, params[:, lo:hi], sample_rate)
        if x.shape[1] == 1:  # a chain without a stereo stage sits in the centre
            x = x.expand(-1, 2, -1)
        return x

    def mix(
        self,
        tracks: torch.Tensor,
        params: torch.Tensor,
        batch_index: torch.Tensor,
        batch_size: int,
        sample_rate: int,
    ) -> torch.Tensor:
        """Process ``(M, T)`` tracks and sum those of each song into ``(B, 2, T)``."""
        out = self(tracks, params, sample_rate)
        mix = out.new_zeros(batch_size, out.shape[1], out.shape[2])
        return mix.index_add(0, batch_index, out)
