"""The base class every console effect derives from."""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING, ClassVar

import torch
from torch import nn

from console.params import ParamSpec

if TYPE_CHECKING:
    from console.export.mapping import ArdourMapping


class Effect(nn.Module):
    """A differentiable channel-strip effect driven by physical parameters.

    Subclasses set :attr:`name` and :attr:`params` and implement
    :meth:`process`. Audio is ``(N, C, T)`` with one row per track, parameters
    are ``(N, P)`` in the units their :class:`ParamSpec` declares, in the
    declared order. An effect holds no per-track state, so one batched call
    serves every track of every song.
    """

    #: Registry name, optionally with a variant: ``"gain"``, ``"eq:dsp"``.
    name: ClassVar[str] = ""
    #: The parameters :meth:`process` reads, in column order.
    params: ClassVar[tuple[ParamSpec, ...]] = ()
    #: What the parameters mean on a stereo track, where that differs (one spec per
    #: parameter, same order and range): ``pan`` is a balance there. ``None``: the same.
    stereo_params: ClassVar[tuple[ParamSpec, ...] | None] = None
    #: One sentence for ``console plugins`` and the docs.
    description: ClassVar[str] = ""
    #: How the parameters become Ardour controls (``console export``); ``None``: the
    #: effect is printed into the track's audio instead.
    ardour: ClassVar[ArdourMapping | None] = None
    #: Names this effect was registered under before, in files that predate a rename
    #: (a ``params.json`` of format version 1 naming one of them means this effect).
    legacy_names: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def accepts(cls, arg: str | None = None, state_keys: Collection[str] = ()) -> bool | None:
        """Whether this effect can load what a file stored under its name (``None``: no view).

        ``arg`` is the text after ``@`` in a spec item (a weights file, say);
        ``state_keys`` the names of the weights a console checkpoint kept for
        this effect (relative to it, ``network.…``). An effect whose name once
        meant another network (an emulator) answers from what was stored, and
        :func:`console.spec.upgrade_spec` then picks the variant of its family
        that accepts it. The default has no view: the effect is kept, and never
        chosen over another.
        """
        return None

    @property
    def num_params(self) -> int:
        return len(self.params)

    def output_channels(self, in_channels: int) -> int:
        """Channels produced for ``in_channels`` input; raise ``ValueError`` if unsupported.

        The default is a channel-wise effect: as many out as in.
        """
        return in_channels

    def default_params(self, n: int = 1) -> torch.Tensor:
        """``(n, P)`` tensor of every parameter at its default."""
        return torch.tensor([[p.default for p in self.params]] * n, dtype=torch.float32)

    def unpack(self, params: torch.Tensor) -> dict[str, torch.Tensor]:
        """Split ``(N, P)`` into ``{name: (N, 1, 1)}`` columns that broadcast over audio."""
        return {p.name: params[:, i, None, None] for i, p in enumerate(self.params)}

    def forward(self, x: torch.Tensor, params: torch.Tensor, sample_rate: int) -> torch.Tensor:
        if x.dim() != 3:
            raise ValueError(f"{self.name}: audio must be (N, C, T), got shape {tuple(x.shape)}.")
        if params.shape != (x.shape[0], self.num_params):
            raise ValueError(
                f"{self.name}: parameters must be (N={x.shape[0]}, P={self.num_params}), "
                f"got {tuple(params.shape)}."
            )
        self.output_channels(x.shape[1])
        return self.process(x, params.to(x.dtype), sample_rate)

    def process(self, x: torch.Tensor, params: torch.Tensor, sample_rate: int) -> torch.Tensor:
        """Apply the effect; inputs are already checked by :meth:`forward`."""
        raise NotImplementedError
