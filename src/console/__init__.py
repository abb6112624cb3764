"""console: automatic multitrack mixing with a differentiable mixing console."""

from console.console import Console, MixResult
from console.effect import Effect
from console.encoder import Encoder
from console.errors import (
    AudioInputError,
    CheckpointError,
    ConsoleError,
    PluginConflictError,
    PluginWarning,
    SpecError,
    UnknownComponentError,
)
from console.hookspecs import hookimpl
from console.losses.base import Loss
from console.mix_params import MixParams, TrackParams
from console.params import ParamSpec
from console.plugins import get_plugins

__all__ = [
    "AudioInputError",
    "CheckpointError",
    "Console",
    "ConsoleError",
    "Effect",
    "Encoder",
    "Loss",
    "MixParams",
    "MixResult",
    "ParamSpec",
    "PluginConflictError",
    "PluginWarning",
    "SpecError",
    "TrackParams",
    "UnknownComponentError",
    "get_plugins",
    "hookimpl",
]
