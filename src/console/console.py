"""The differentiable mixing console: encoder, post-processor, effect chain, sum.

Only valid (unmasked) tracks are encoded and processed: the batch's tracks are
flattened to ``(M, T)`` rows, so padding costs nothing and cannot leak into
the context or the mix.
"""

from __future__ import annotations

import importlib.metadata
import inspect
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs
import torch
from torch import nn

from console.atomic import atomic_write
from console.chain import EffectChain
from console.checkpoint_file import fingerprint, read_checkpoint, state_dict_of
from console.decisions import DecisionHead, Decisions, input_trim_db
from console.encoder import Encoder
from console.errors import AudioInputError, CheckpointError, ConsoleError, SpecError
from console.mix_params import MixParams, ParamSlot
from console.numbers import db_to_amplitude
from console.plugins import Plugins, get_plugins
from console.post_processor import POST_PROCESSORS, create_post_processor
from console.spec import stored_effect_keys, upgrade_spec
from console.stereo import encoder_view, stereo_rows
from console.tracks import check_stems, masked_mean, valid_rows

#: What a new console is unless told otherwise, in Python and in ``console train`` alike:
#: chosen on validation data and sized to train on two CPU cores (see the training
#: tutorial). :meth:`Console.paper` builds the paper's configuration instead.
DEFAULT_ENCODER = "mel-stats"
#: The default encoder's options when none are given (dropout between its layers carried
#: the engineer's levels to unheard sources better in round 4's validation).
DEFAULT_ENCODER_OPTIONS: dict[str, Any] = {"dropout": 0.3}
DEFAULT_HIDDEN = 128
DEFAULT_POST_PROCESSOR = "mlp"

CHECKPOINT_FORMAT = "console-checkpoint"
CHECKPOINT_VERSION = 2


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
    #: ``(B, K)`` the stereo tracks (``None``: every track mono).
    stereo: torch.Tensor | None = None

    def mix_params(
        self, console: Console, track_names: Sequence[str], sample_rate: int, index: int = 0
    ) -> MixParams:
        """The decisions for batch item ``index`` as an editable :class:`MixParams`."""
        rows = self.params[index][self.mask[index]]
        channels = None
        if self.stereo is not None:
            channels = [2 if s else 1 for s in self.stereo[index][self.mask[index]].tolist()]
        return MixParams.from_tensor(rows, self.layout, track_names, console.spec, sample_rate,
                                     channels)


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
        hidden: int = DEFAULT_HIDDEN,
        decisions: Decisions | None = None,
        post_processor: str = DEFAULT_POST_PROCESSOR,
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.chain = chain
        self.encoder_name = encoder_name
        self.encoder_options = dict(encoder_options or {})
        self.hidden = hidden
        self.decisions = decisions or Decisions.generalising()
        self.head = DecisionHead(chain, self.decisions)
        self.post_processor_kind = post_processor
        self.post_processor = create_post_processor(
            post_processor, encoder.embed_dim, chain.num_params, hidden
        )
        if self.head.gain_column is not None:
            # An untrained console starts at equal loudness: no deviation from the trim.
            self.post_processor.zero_output(self.head.gain_column)

    @classmethod
    def from_spec(
        cls,
        spec: str,
        encoder: str = DEFAULT_ENCODER,
        encoder_options: dict[str, Any] | None = None,
        hidden: int = DEFAULT_HIDDEN,
        plugins: Plugins | None = None,
        decisions: Decisions | None = None,
        post_processor: str = DEFAULT_POST_PROCESSOR,
    ) -> Console:
        """Assemble a console from registered components, e.g. ``"gain+eq+comp+reverb+pan"``.

        The defaults build what ``console train`` trains. ``decisions`` chooses how
        gains and pans are predicted (see :mod:`console.decisions`; by default
        loudness-relative gains and balanced pans); ``post_processor`` is the
        paper's shared per-track MLP (``"mlp"``) or the set-aware one whose tracks
        attend to each other (``"set"``). :meth:`paper` builds the paper's console.
        """
        plugins = plugins or get_plugins()
        chain = EffectChain.from_spec(spec, plugins)
        component = plugins.resolve("encoder", encoder)
        if encoder_options is None and component.name == DEFAULT_ENCODER:
            encoder_options = dict(DEFAULT_ENCODER_OPTIONS)
        enc = _create_encoder(component, encoder_options or {})
        if not isinstance(enc, Encoder):
            raise ConsoleError(
                f"The encoder {component.name!r} from {component.plugin!r} did not build a "
                f"console.Encoder (got {type(enc).__name__}); report this to its authors."
            )
        return cls(chain, enc, component.name, encoder_options, hidden, decisions, post_processor)

    @classmethod
    def paper(
        cls,
        spec: str,
        encoder_options: dict[str, Any] | None = None,
        plugins: Plugins | None = None,
    ) -> Console:
        """The paper's console: VGGish, a 256-wide shared MLP, gains and pans predicted directly.

        VGGish has 72 M weights (give published ones with ``encoder_options={"weights":
        PATH}``); trained from scratch it needs a GPU and a small learning rate.
        """
        return cls.from_spec(spec, encoder="vggish", encoder_options=encoder_options,
                             hidden=256, plugins=plugins, decisions=Decisions(),
                             post_processor="mlp")

    @classmethod
    def pretrained(cls, spec: str = "gain+pan") -> Console:
        """A console shipped with the package, by the chain it runs (see ``console.pretrained``).

        ``Console.pretrained()`` is the default ``gain+pan`` console;
        ``Console.pretrained("gain+eq:dsp+comp:dsp+reverb:dsp+pan")`` the full chain.
        """
        from console.pretrained import load_pretrained

        return load_pretrained(spec)

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
        self,
        stems: torch.Tensor,
        mask: torch.Tensor | None = None,
        sample_rate: int = 44100,
        embeddings: torch.Tensor | None = None,
        trims: torch.Tensor | None = None,
        stereo: torch.Tensor | None = None,
    ) -> MixResult:
        """Predict settings for every track of ``stems`` and mix them.

        ``stems`` are ``(B, K, T)`` mono tracks, or ``(B, K, 2, T)`` where ``stereo``
        ``(B, K)`` says which tracks are stereo (by default those whose two channels
        differ; a mono track is on both sides). A stereo track is balanced where a
        mono one is panned (see :mod:`console.stereo`).

        Training on excerpts of songs can pass what ``console mix`` measures on
        whole tracks, one row per unmasked track in batch order (see
        :mod:`console.training.mixing_task`): ``trims`` ``(M,)``, each track's input
        trim in dB from its whole-song loudness (else measured on ``stems``), and
        ``embeddings`` ``(M, D)``, what a frozen encoder heard of the whole track.
        """
        stems, mask = check_stems(stems, mask, stereo=True)
        rows, batch_index = valid_rows(stems, mask)
        row_stereo = _row_stereo(rows, stereo, mask)
        if trims is not None and not self.head.hears_trimmed:
            trims = None  # a console of absolute gains has no trim
        if embeddings is None:
            embeddings, trim = self.listen(rows, sample_rate, trim_db=trims, stereo=row_stereo)
        elif trims is not None:
            trim = trims.to(rows)
        else:
            trim = (input_trim_db(rows, sample_rate, row_stereo) if self.head.hears_trimmed
                    else rows.new_zeros(rows.shape[0]))
        normalised, physical = self.decide(embeddings, trim, batch_index, stems.shape[0],
                                           row_stereo)
        mix = self.chain.mix(rows, physical, batch_index, stems.shape[0], sample_rate,
                             row_stereo)
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
            stereo=None if row_stereo is None else _scatter(
                row_stereo[:, None], mask, torch.zeros(1, dtype=torch.bool))[..., 0],
        )

    def listen(
        self,
        rows: torch.Tensor,
        sample_rate: int,
        trim_db: torch.Tensor | None = None,
        stereo: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Embeddings ``(M, D)`` of tracks and each track's input trim in dB.

        ``rows`` are mono ``(M, T)``, or ``(M, 2, T)`` with ``stereo`` ``(M,)`` marking
        the stereo tracks: the encoder hears a stereo track's mid (its side when that
        is louder: :func:`console.stereo.encoder_view`), and its trim comes from the
        loudness of both channels. With loudness-relative decisions the encoder
        hears every track at the reference loudness, so the recording level cannot
        sway what it predicts. ``trim_db`` ``(M,)`` gives trims measured elsewhere
        (on the whole of a long track whose excerpt ``rows`` is; see
        :mod:`console.streaming`).
        """
        heard = rows
        if rows.dim() == 3:
            stereo = stereo_rows(rows) if stereo is None else stereo.to(rows.device)
            heard = torch.where(stereo[:, None], encoder_view(rows), rows.mean(dim=1))
        if not self.head.hears_trimmed:
            return self.encoder(heard, sample_rate), rows.new_zeros(rows.shape[0])
        trim = (input_trim_db(rows, sample_rate, stereo) if trim_db is None
                else trim_db.to(rows))
        return self.encoder(heard * db_to_amplitude(trim)[:, None], sample_rate), trim

    def decide(
        self,
        embeddings: torch.Tensor,
        trim_db: torch.Tensor,
        batch_index: torch.Tensor,
        batch_size: int,
        stereo: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Normalised ``(M, P)`` network outputs and the physical settings they stand for.

        ``stereo`` ``(M,)`` marks stereo tracks (their balance keeps the recorded image;
        see :class:`~console.decisions.DecisionHead`).
        """
        context = masked_mean(embeddings, batch_index, batch_size)
        normalised = self.post_processor(embeddings, batch_index, batch_size)
        physical = self.head.physical(normalised, trim_db, batch_index, batch_size, context,
                                      stereo)
        return normalised, physical

    def render(
        self,
        stems: torch.Tensor,
        params: torch.Tensor | MixParams,
        mask: torch.Tensor | None = None,
        sample_rate: int = 44100,
        stereo: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Mix ``stems`` with given physical parameters ``(B, K, P)`` (or a :class:`MixParams`).

        This is how an edited mix is re-rendered: no network is involved.
        """
        return render(self.chain, stems, params, mask, sample_rate, stereo)

    # -- checkpoints -----------------------------------------------------------------

    def checkpoint(self) -> dict[str, Any]:
        """Everything needed to rebuild this console: spec, options, trained weights, versions.

        It holds no optimizer state (the training state does), and frozen weights
        that the spec rebuilds by itself (an emulator's shipped weights, a frozen
        encoder's weights file) are not stored again: their names and a
        fingerprint are, and loading checks that the installation still builds them.
        """
        state = {k: v.detach().cpu() for k, v in self.state_dict().items()}
        rebuilt = sorted(
            k for k, v in self._frozen_state_from_spec().items()
            if k in state and state[k].dtype == v.dtype and torch.equal(state[k], v)
        )
        skip = set(rebuilt)
        return {
            "format": CHECKPOINT_FORMAT,
            "format_version": CHECKPOINT_VERSION,
            "spec": self.spec,
            "encoder": self.encoder_name,
            "encoder_options": self.encoder_options,
            "hidden": self.hidden,
            "post_processor": self.post_processor_kind,
            "decisions": self.decisions.to_dict(),
            "state_dict": {k: v for k, v in state.items() if k not in skip},
            "rebuilt": {
                "keys": rebuilt, "fingerprint": fingerprint({k: state[k] for k in rebuilt})
            },
            "versions": {"console": _version("console"), "torch": str(torch.__version__)},
        }

    def _frozen_state_from_spec(self) -> dict[str, torch.Tensor]:
        """The weights a fresh build gives the chain, and the encoder when it is frozen."""
        builders: dict[str, Any] = {}
        if self.chain.state_dict():
            builders["chain"] = lambda: EffectChain.from_spec(self.spec)
        encoder_params = list(self.encoder.parameters())
        if encoder_params and not any(p.requires_grad for p in encoder_params):
            builders["encoder"] = lambda: get_plugins().resolve(
                "encoder", self.encoder_name
            ).create(**self.encoder_options)
        state: dict[str, torch.Tensor] = {}
        for prefix, build in builders.items():
            try:
                with torch.random.fork_rng(devices=[]):  # saving must not move training's RNG
                    module = build()
            except Exception:  # a part that cannot be rebuilt here is simply stored in full
                continue
            state.update(
                {f"{prefix}.{k}": v.detach().cpu() for k, v in module.state_dict().items()}
            )
        return state

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
        """Rebuild a console from :meth:`checkpoint` output; any flaw is one CheckpointError."""
        if not isinstance(data, dict) or data.get("format") != CHECKPOINT_FORMAT:
            raise CheckpointError(f"{source} is not a console checkpoint.")
        if data.get("format_version") not in READABLE_VERSIONS:
            raise CheckpointError(
                f"{source} has checkpoint format {data.get('format_version')!r}; this "
                f"console reads format {CHECKPOINT_VERSION}. Upgrade the console package."
            )
        spec, encoder, options, hidden = _checkpoint_settings(data, source)
        try:
            decisions = Decisions.from_dict(data.get("decisions"))
        except (TypeError, ValueError) as exc:
            raise CheckpointError(
                f"{source}: its 'decisions' cannot be read ({_one_line(exc)}); the file is "
                f"damaged or from a newer console."
            ) from exc
        state = state_dict_of(data, source)
        # An item renamed since (eq:tcn when it was the grey-box) loads as what its weights are.
        stored = [*state, *((data.get("rebuilt") or {}).get("keys") or [])]
        spec = upgrade_spec(spec, stored_effect_keys(stored), plugins=plugins)
        kind = data.get("post_processor", "mlp")  # checkpoints before the option used the MLP
        if kind not in POST_PROCESSORS:
            raise CheckpointError(
                f"{source} names the post-processor {kind!r}, which this console does not "
                f"know ({', '.join(POST_PROCESSORS)}); the file is damaged or from a newer "
                f"console."
            )
        try:
            console = cls.from_spec(
                spec, encoder=encoder, encoder_options=options, hidden=hidden, plugins=plugins,
                decisions=decisions, post_processor=kind,
            )
        except ConsoleError as exc:
            raise CheckpointError(f"{source}: {_one_line(exc)}") from exc
        except (TypeError, ValueError, RuntimeError) as exc:
            raise CheckpointError(
                f"{source}: the encoder {encoder!r} does not take the options {options} "
                f"({_one_line(exc)}); the file is damaged or from another console version."
            ) from exc
        state.update(_rebuilt_weights(console, data.get("rebuilt"), source, data))
        _check_fits(console, state, source, data)
        console.load_state_dict(state)
        return console


def render(
    chain: EffectChain,
    stems: torch.Tensor,
    params: torch.Tensor | MixParams,
    mask: torch.Tensor | None = None,
    sample_rate: int = 44100,
    stereo: torch.Tensor | None = None,
) -> torch.Tensor:
    """Mix ``stems`` through ``chain`` with physical parameters ``(B, K, P)``.

    ``stems`` and ``stereo`` are as :meth:`Console.forward` takes them; a
    :class:`MixParams` says itself which tracks are stereo.
    """
    stems, mask = check_stems(stems, mask, stereo=True)
    if isinstance(params, MixParams):
        if stems.shape[0] != 1 or len(params.tracks) != stems.shape[1]:
            raise AudioInputError(
                f"The parameters describe {len(params.tracks)} tracks but "
                f"{stems.shape[1]} stems were given."
            )
        if stereo is None:
            stereo = torch.tensor([[t.channels == 2 for t in params.tracks]])
        if stems.dim() == 3 and bool(stereo.any()):
            raise AudioInputError(
                f"The parameters describe stereo tracks "
                f"{[t.name for t in params.tracks if t.channels == 2]} but the stems are "
                f"mono (B, K, T); load them with their channels (console.audio.load_stems)."
            )
        params = chain.to_tensor(params)[None]
    if params.shape[:2] != stems.shape[:2] or params.shape[2] != chain.num_params:
        raise ValueError(
            f"Parameters must be (B, K, P={chain.num_params}) matching stems "
            f"{tuple(stems.shape[:2])}, got {tuple(params.shape)}."
        )
    rows, batch_index = valid_rows(stems, mask)
    return chain.mix(rows, params.to(stems)[mask], batch_index, stems.shape[0], sample_rate,
                     _row_stereo(rows, stereo, mask))


def _row_stereo(
    rows: torch.Tensor, stereo: torch.Tensor | None, mask: torch.Tensor
) -> torch.Tensor | None:
    """``(M,)`` which rows are stereo tracks: as ``stereo`` ``(B, K)`` says, else measured."""
    if rows.dim() == 2:
        if stereo is not None and bool(stereo.any()):
            raise AudioInputError(
                "stereo marks stereo tracks, but the stems are mono (batch, tracks, samples); "
                "give stereo tracks as (batch, tracks, 2, samples) (console.audio.load_stems)."
            )
        return None
    if stereo is None:
        return stereo_rows(rows)
    stereo = stereo.to(device=rows.device, dtype=torch.bool)
    if stereo.shape != mask.shape:
        raise AudioInputError(
            f"stereo must be (batch, tracks) = {tuple(mask.shape)}, got {tuple(stereo.shape)}."
        )
    return stereo[mask]


def _scatter(values: torch.Tensor, mask: torch.Tensor, fill: torch.Tensor) -> torch.Tensor:
    """Place ``(M, P)`` rows at the mask's true positions of a ``(B, K, P)`` tensor of ``fill``."""
    out = fill.to(values).expand(*mask.shape, values.shape[-1]).clone()
    out[mask] = values
    return out


# -- reading checkpoints ---------------------------------------------------------------

#: Format 1 stores every weight; format 2 leaves out frozen weights the spec rebuilds.
READABLE_VERSIONS = (1, 2)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def _checkpoint_settings(
    data: dict[str, Any], source: str
) -> tuple[str, str, dict[str, Any], int]:
    """The spec, encoder, encoder options and width a checkpoint names, each checked."""
    damaged = "it is damaged or was not written by console: save it again"
    spec, encoder = data.get("spec"), data.get("encoder")
    if not isinstance(spec, str) or not spec.strip():
        raise CheckpointError(
            f"{source} names no effect chain (its 'spec' is {spec!r}); {damaged}."
        )
    if not isinstance(encoder, str) or not encoder.strip():
        raise CheckpointError(
            f"{source} names no encoder (its 'encoder' is {encoder!r}); {damaged}."
        )
    options = data.get("encoder_options") or {}
    if not isinstance(options, dict) or not all(isinstance(k, str) for k in options):
        raise CheckpointError(
            f"{source}: its encoder_options must be a mapping of option names, got {options!r}; "
            f"{damaged}."
        )
    hidden = data.get("hidden", 256)
    if isinstance(hidden, bool) or not isinstance(hidden, int) or hidden <= 0:
        raise CheckpointError(
            f"{source}: its post-processor width 'hidden' must be a positive whole number, "
            f"got {hidden!r}; {damaged}."
        )
    return spec, encoder, dict(options), hidden


def _rebuilt_weights(
    console: Console, rebuilt: Any, source: str, data: dict[str, Any]
) -> dict[str, torch.Tensor]:
    """The frozen weights a checkpoint left to the installation, checked by fingerprint."""
    if rebuilt is None:
        return {}
    if not isinstance(rebuilt, dict) or not isinstance(rebuilt.get("keys"), list):
        raise CheckpointError(f"{source} has a damaged 'rebuilt' entry; save it again.")
    built = console.state_dict()
    keys = [k for k in rebuilt["keys"] if k in built]
    ours = {k: built[k].detach().cpu() for k in keys}
    if len(keys) != len(rebuilt["keys"]) or fingerprint(ours) != rebuilt.get("fingerprint"):
        written = data.get("versions", {}).get("console", "?")
        raise CheckpointError(
            f"{source} uses the frozen weights its spec {console.spec!r} had when console "
            f"{written} wrote it (emulator or encoder weights files), and this installation "
            f"has other ones; install that version or give the weights it was trained with."
        )
    return ours


def _check_fits(
    console: Console, state: dict[str, torch.Tensor], source: str, data: dict[str, Any]
) -> None:
    """Refuse weights that do not fit the console the checkpoint names, in one line."""
    ours = console.state_dict()
    missing = [k for k in ours if k not in state]
    unexpected = [k for k in state if k not in ours]
    shapes = [
        f"{k} {tuple(state[k].shape)} instead of {tuple(v.shape)}"
        for k, v in ours.items() if k in state and state[k].shape != v.shape
    ]
    if missing or unexpected or shapes:
        problems = [
            f"{label} {items[:3]}" for label, items in
            (("missing weights", missing), ("unexpected weights", unexpected),
             ("wrong shapes", shapes)) if items
        ]
        written = data.get("versions", {}).get("console", "?")
        raise CheckpointError(
            f"{source} does not fit the console {console.spec!r} it names: "
            f"{'; '.join(problems)} (written by console {written}); it was saved for other "
            f"settings or is damaged: use the checkpoint that training wrote."
        )


def _create_encoder(component: Any, options: dict[str, Any]) -> Any:
    """Build a registered encoder, refusing options it does not take in one line."""
    try:
        accepted = inspect.signature(component.factory).parameters
    except (TypeError, ValueError):  # a builder without a signature: let it judge
        return component.create(**options)
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in accepted.values())
    unknown = sorted(set(options) - set(accepted))
    if unknown and not takes_any:
        known = ", ".join(n for n, p in accepted.items() if p.kind is not p.VAR_POSITIONAL)
        raise SpecError(
            f"The encoder {component.name!r} takes no option {', '.join(map(repr, unknown))} "
            f"(it takes: {known or 'none'}); options of another encoder need its name too, "
            f"e.g. encoder='vggish'."
        )
    return component.create(**options)
