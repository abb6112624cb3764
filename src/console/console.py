"""The differentiable mixing console: encoder, post-processor, effect chain, sum.

Only valid (unmasked) tracks are encoded and processed: the batch's tracks are
flattened to ``(M, T)`` rows, so padding costs nothing and cannot leak into
the context or the mix.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs
import torch
from torch import nn

from console.atomic import atomic_write
from console.chain import EffectChain
from console.checkpoint_file import read_checkpoint
from console.encoder import Encoder
from console.errors import AudioInputError, CheckpointError, ConsoleError
from console.mix_params import MixParams, ParamSlot
from console.plugins import Plugins, get_plugins
from console.post_processor import PostProcessor
from console.tracks import check_stems, masked_mean, valid_rows

CHECKPOINT_FORMAT = "console-checkpoint"
CHECKPOINT_VERSION = 1


@attrs.frozen
class MixResult:
    """What :meth:`Console.forward` returns.

    ``params`` are physical values ``(B, K, P)``; rows of masked tracks hold
    the defaults. ``normalised`` are the post-processor outputs in ``[0, 1]``.
    """

    mix: torch.Tensor
    params: torch.Tensor
    normalised: torch.Tensor
    mask: torch.Tensor
    layout: list[ParamSlot]

    def mix_params(
        self, console: Console, track_names: Sequence[str], sample_rate: int, index: int = 0
    ) -> MixParams:
        """The decisions for batch item ``index`` as an editable :class:`MixParams`."""
        rows = self.params[index][self.mask[index]]
        return MixParams.from_tensor(rows, self.layout, track_names, console.spec, sample_rate)


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


class Console(nn.Module):
    """Predicts per-track effect settings from the stems and mixes them.

    Build one from registered components with :meth:`from_spec`.
    """

    def __init__(
        self,
        chain: EffectChain,
        encoder: Encoder,
        encoder_name: str,
        encoder_options: dict[str, Any] | None = None,
        hidden: int = 256,
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.chain = chain
        self.encoder_name = encoder_name
        self.encoder_options = dict(encoder_options or {})
        self.hidden = hidden
        self.post_processor = PostProcessor(encoder.embed_dim, chain.num_params, hidden)

    @classmethod
    def from_spec(
        cls,
        spec: str,
        encoder: str = "vggish",
        encoder_options: dict[str, Any] | None = None,
        hidden: int = 256,
        plugins: Plugins | None = None,
    ) -> Console:
        """Assemble a console from registered components, e.g. ``"gain+eq+comp+reverb+pan"``."""
        plugins = plugins or get_plugins()
        chain = EffectChain.from_spec(spec, plugins)
        component = plugins.resolve("encoder", encoder)
        enc = component.create(**(encoder_options or {}))
        if not isinstance(enc, Encoder):
            raise ConsoleError(
                f"The encoder {component.name!r} from {component.plugin!r} did not build a "
                f"console.Encoder (got {type(enc).__name__}); report this to its authors."
            )
        return cls(chain, enc, component.name, encoder_options, hidden)

    @property
    def spec(self) -> str:
        """The resolved spec string, naming the variant of every effect."""
        return self.chain.spec

    @property
    def layout(self) -> list[ParamSlot]:
        return self.chain.layout

    @property
    def num_params(self) -> int:
        return self.chain.num_params

    # -- prediction ------------------------------------------------------------------

    def forward(
        self, stems: torch.Tensor, mask: torch.Tensor | None = None, sample_rate: int = 44100
    ) -> MixResult:
        """Predict settings for every track of ``stems`` ``(B, K, T)`` and mix them."""
        stems, mask = check_stems(stems, mask)
        rows, batch_index = valid_rows(stems, mask)
        embeddings = self.encoder(rows, sample_rate)
        normalised = self.predict(embeddings, batch_index, stems.shape[0])
        physical = self.chain.denormalise(normalised)
        mix = self.chain.mix(rows, physical, batch_index, stems.shape[0], sample_rate)
        defaults = self.chain.defaults()
        normalised_defaults = torch.stack(
            [s.spec.normalise(defaults[s.index]) for s in self.layout]
        ) if self.layout else defaults
        return MixResult(
            mix=mix,
            params=_scatter(physical, mask, defaults),
            normalised=_scatter(normalised, mask, normalised_defaults),
            mask=mask,
            layout=self.layout,
        )

    def predict(
        self, embeddings: torch.Tensor, batch_index: torch.Tensor, batch_size: int
    ) -> torch.Tensor:
        """Normalised settings ``(M, P)`` from track embeddings ``(M, D)`` and their songs."""
        context = masked_mean(embeddings, batch_index, batch_size)
        return self.post_processor(embeddings, context[batch_index])

    def render(
        self,
        stems: torch.Tensor,
        params: torch.Tensor | MixParams,
        mask: torch.Tensor | None = None,
        sample_rate: int = 44100,
    ) -> torch.Tensor:
        """Mix ``stems`` with given physical parameters ``(B, K, P)`` (or a :class:`MixParams`).

        This is how an edited mix is re-rendered: no network is involved.
        """
        return render(self.chain, stems, params, mask, sample_rate)

    # -- checkpoints -----------------------------------------------------------------

    def checkpoint(self) -> dict[str, Any]:
        """Everything needed to rebuild this console: spec, options, weights, versions."""
        return {
            "format": CHECKPOINT_FORMAT,
            "format_version": CHECKPOINT_VERSION,
            "spec": self.spec,
            "encoder": self.encoder_name,
            "encoder_options": self.encoder_options,
            "hidden": self.hidden,
            "state_dict": {k: v.detach().cpu() for k, v in self.state_dict().items()},
            "versions": {"console": _version("console"), "torch": str(torch.__version__)},
        }

    def save(self, path: str | Path) -> None:
        """Write a checkpoint atomically (a crash leaves any old file intact)."""
        atomic_write(path, lambda tmp: torch.save(self.checkpoint(), tmp))

    @classmethod
    def load(cls, path: str | Path, plugins: Plugins | None = None) -> Console:
        """Rebuild a console from :meth:`save` output, resolving components by name."""
        data = read_checkpoint(path)
        return cls.from_checkpoint(data, source=str(path), plugins=plugins)

    @classmethod
    def from_checkpoint(
        cls, data: Any, source: str = "checkpoint", plugins: Plugins | None = None
    ) -> Console:
        if not isinstance(data, dict) or data.get("format") != CHECKPOINT_FORMAT:
            raise CheckpointError(f"{source} is not a console checkpoint.")
        if data.get("format_version") != CHECKPOINT_VERSION:
            raise CheckpointError(
                f"{source} has checkpoint format {data.get('format_version')!r}; this "
                f"console reads format {CHECKPOINT_VERSION}. Upgrade the console package."
            )
        console = cls.from_spec(
            data["spec"],
            encoder=data["encoder"],
            encoder_options=data.get("encoder_options") or {},
            hidden=int(data.get("hidden", 256)),
            plugins=plugins,
        )
        missing, unexpected = console.load_state_dict(data["state_dict"], strict=False)
        if missing or unexpected:
            raise CheckpointError(
                f"{source} does not fit the console {data['spec']!r}: missing weights "
                f"{missing[:5]}, unexpected weights {unexpected[:5]} (written by console "
                f"{data.get('versions', {}).get('console', '?')})."
            )
        return console


def render(
    chain: EffectChain,
    stems: torch.Tensor,
    params: torch.Tensor | MixParams,
    mask: torch.Tensor | None = None,
    sample_rate: int = 44100,
) -> torch.Tensor:
    """Mix ``stems`` ``(B, K, T)`` through ``chain`` with physical parameters ``(B, K, P)``."""
    stems, mask = check_stems(stems, mask)
    if isinstance(params, MixParams):
        if stems.shape[0] != 1 or len(params.tracks) != stems.shape[1]:
            raise AudioInputError(
                f"The parameters describe {len(params.tracks)} tracks but "
                f"{stems.shape[1]} stems were given."
            )
        params = chain.to_tensor(params)[None]
    if params.shape[:2] != stems.shape[:2] or params.shape[2] != chain.num_params:
        raise ValueError(
            f"Parameters must be (B, K, P={chain.num_params}) matching stems "
            f"{tuple(stems.shape[:2])}, got {tuple(params.shape)}."
        )
    rows, batch_index = valid_rows(stems, mask)
    return chain.mix(rows, params.to(stems)[mask], batch_index, stems.shape[0], sample_rate)


def _scatter(values: torch.Tensor, mask: torch.Tensor, fill: torch.Tensor) -> torch.Tensor:
    """Place ``(M, P)`` rows at the mask's true positions of a ``(B, K, P)`` tensor of ``fill``."""
    out = fill.to(values).expand(*mask.shape, values.shape[-1]).clone()
    out[mask] = values
    return out
