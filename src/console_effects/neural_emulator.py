"""The base of every neural emulator: loading frozen weights, settings in, reference named.

An emulator is an effect whose processing is a frozen network trained to
sound like a reference effect (see :mod:`console_effects.emulator` for the
built-in ones and :mod:`console_effects.reverb_emulator` for the reverb).
"""

from __future__ import annotations

import functools
import importlib.resources
import re
from collections.abc import Collection
from pathlib import Path
from typing import Any, ClassVar

import torch

from console.checkpoint_file import read_checkpoint as read_checkpoint_file
from console.effect import Effect
from console.errors import CheckpointError
from console.params import normalise_columns
from console_effects.emulator_checkpoint import (
    CHECKPOINT_NAMES,
    EMULATOR_SAMPLE_RATE,
    read_checkpoint,
    resolve_checkpoint,
    write_checkpoint,
)
from console_effects.references import ReferenceKind, reference_for, resolve_kind


class NeuralEmulator(Effect):
    """A frozen network standing in for an effect; subclasses say which, and which network.

    ``Emulator(weights)`` loads a checkpoint written by ``console
    train-emulator`` (a file, or its run folder); with no argument the weights
    shipped in ``console_effects/weights`` load. The weights are frozen
    (``requires_grad=False``); gradients still reach the audio and the
    parameters that condition the network. ``config=`` builds an untrained
    network instead, for training.
    """

    #: Effect family, the name of the shipped weights file and the checkpoint's tag.
    family: ClassVar[str] = ""
    #: The registered effect trained against when no pedalboard mapping exists.
    dsp_reference: ClassVar[str] = ""
    #: Segment length of training examples: a few times the effect's memory.
    training_seconds: ClassVar[float] = 1.5
    #: The file names a checkpoint folder is searched for, and what writes them.
    checkpoint_names: ClassVar[tuple[str, ...]] = CHECKPOINT_NAMES
    checkpoint_writer: ClassVar[str] = "`console train-emulator --out`"
    #: The ``network`` a checkpoint's config records for this emulator's kind of network
    #: (a config without one is a TCN's: every checkpoint written before the field).
    network_kind: ClassVar[str] = ""
    #: Settings held fixed while it trains (the reverbs learn the wet signal: ``mix`` 1).
    training_settings: ClassVar[dict[str, float]] = {}

    def __init__(self, weights: str | Path | None = None, *, config: Any = None):
        super().__init__()
        self.checkpoint_info: dict[str, Any] = {}
        if config is not None:
            if weights is not None:
                raise ValueError(f"{self.name}: give weights or config, not both.")
            self.network = self.build_network(self._checked(config))
            return
        path = (resolve_checkpoint(weights, self.checkpoint_names, self.checkpoint_writer)
                if weights is not None else self.shipped_weights())
        data = read_checkpoint(path, self)
        config = self._checked(self.config_from_dict(data["config"], path))
        self.network = self.build_network(config)
        try:
            self.network.load_state_dict(data["state_dict"])
        except RuntimeError as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise CheckpointError(
                f"{path}: its weights do not fit {self.name}'s network ({first}); it was "
                f"written for another network or is damaged: retrain it with `console "
                f"train-emulator {self.name}`."
            ) from exc
        self.network.requires_grad_(False)
        self.checkpoint_info = dict(data.get("info", {}))

    @classmethod
    def default_config(cls) -> Any:
        """The network shape ``console train-emulator`` starts from."""
        raise NotImplementedError

    @classmethod
    def build_network(cls, config: Any) -> torch.nn.Module:
        """The network for ``config``."""
        raise NotImplementedError

    @classmethod
    def config_from_dict(cls, data: dict[str, Any], source: Path) -> Any:
        """The config a checkpoint's ``config`` entry describes; a clear error if not this kind."""
        raise NotImplementedError

    def _checked(self, config: Any) -> Any:
        """``config`` if this effect can run a network of that shape, else a CheckpointError."""
        return config

    @classmethod
    def weights_stem(cls) -> str:
        """The shipped weights' and card's file name without suffix: ``eq-greybox``."""
        return cls.name.replace(":", "-")

    @classmethod
    def shipped_weights(cls) -> Path:
        folder = importlib.resources.files("console_effects") / "weights"
        return Path(str(folder / f"{cls.weights_stem()}.pt"))

    # -- what a file stored under this name holds ---------------------------------------------

    @classmethod
    def accepts(cls, arg: str | None = None, state_keys: Collection[str] = ()) -> bool:
        """Whether this emulator's kind of network is what was stored (see ``Effect.accepts``).

        ``arg``: an emulator checkpoint of this family whose config records
        another network (an ``eq:tcn@DIR`` written when ``eq:tcn`` was the
        grey-box) is not. ``state_keys``: a console checkpoint's weights for
        this effect are this network's if their names are, numbers aside.
        Anything unreadable is accepted: loading it says what is wrong.
        """
        if arg is not None:
            try:
                path = resolve_checkpoint(arg, cls.checkpoint_names, cls.checkpoint_writer)
                data = read_checkpoint_file(path, "emulator checkpoint")
            except CheckpointError:
                return True
            config = data.get("config") if isinstance(data, dict) else None
            if not isinstance(config, dict) or data.get("family") != cls.family:
                return True
            return config.get("network", "tcn") == cls.network_kind
        if state_keys:
            return _signature(state_keys) == cls.state_signature()
        return True

    @classmethod
    def state_signature(cls) -> frozenset[str]:
        """The names of this network's weights, numbers replaced by ``#``."""
        return _network_signature(cls)

    @classmethod
    def reference(cls, kind: ReferenceKind = "auto") -> Any:
        """The processor this emulator learns from (see :mod:`console_effects.references`)."""
        return reference_for(cls, kind, EMULATOR_SAMPLE_RATE)

    @classmethod
    def reference_name(cls, kind: ReferenceKind = "auto") -> str:
        """``"pedalboard"`` or the DSP effect's name: what ``kind`` resolves to here."""
        resolved = resolve_kind(cls.family, kind)
        return "pedalboard" if resolved == "pedalboard" else cls.dsp_reference

    @property
    def receptive_field_s(self) -> float:
        """How far back, in seconds, one output sample can hear (``inf``: recursive)."""
        raise NotImplementedError

    def normalise(self, params: torch.Tensor) -> torch.Tensor:
        """``(N, P)`` physical settings to ``[0, 1]`` by the ParamSpecs: the network's input."""
        return normalise_columns(self.params, params)

    def save(self, path: str | Path, info: dict[str, Any] | None = None) -> None:
        """Write the network as a checkpoint this class (or ``NAME@path``) loads, atomically."""
        write_checkpoint(self, path, info, getattr(self, "internal_rate", None))


def _signature(keys: Collection[str]) -> frozenset[str]:
    """Weight names with every index replaced: the same for any depth of the same network."""
    return frozenset(re.sub(r"\.\d+(?=\.|$)", ".#", key) for key in keys)


@functools.cache
def _network_signature(emulator: type[NeuralEmulator]) -> frozenset[str]:
    network = emulator.build_network(emulator.default_config())
    return _signature([f"network.{key}" for key in network.state_dict()])
