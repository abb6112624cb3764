"""Declaring an effect parameter once, in physical units.

A :class:`ParamSpec` is the single source for everything that needs to know
about a parameter: the network maps ``[0, 1]`` to its range, data generation
samples it, the JSON export names it, and the CLI and docs list it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import attrs
import torch

Scale = Literal["linear", "log"]


def _check_range(instance: ParamSpec, attribute: attrs.Attribute, value: float) -> None:
    if not math.isfinite(value):
        raise ValueError(
            f"ParamSpec {instance.name!r}: {attribute.name} must be finite, got {value}"
        )


@attrs.frozen
class ParamSpec:
    """One parameter of an effect: its name, unit, range, default and scale.

    ``scale="log"`` spaces the normalised range geometrically, which suits
    frequencies and times; it requires a positive minimum.
    """

    name: str = attrs.field(validator=attrs.validators.matches_re(r"^[a-z][a-z0-9_]*$"))
    unit: str
    minimum: float = attrs.field(converter=float, validator=_check_range)
    maximum: float = attrs.field(converter=float, validator=_check_range)
    default: float = attrs.field(converter=float, validator=_check_range)
    scale: Scale = attrs.field(default="linear", validator=attrs.validators.in_(("linear", "log")))
    description: str = ""

    def __attrs_post_init__(self) -> None:
        if not self.minimum < self.maximum:
            raise ValueError(
                f"ParamSpec {self.name!r}: minimum ({self.minimum}) must be below "
                f"maximum ({self.maximum})."
            )
        if not self.minimum <= self.default <= self.maximum:
            raise ValueError(
                f"ParamSpec {self.name!r}: default {self.default} lies outside "
                f"[{self.minimum}, {self.maximum}]."
            )
        if self.scale == "log" and self.minimum <= 0:
            raise ValueError(
                f"ParamSpec {self.name!r}: a log scale needs a positive minimum, "
                f"got {self.minimum}."
            )

    def denormalise(self, u: torch.Tensor) -> torch.Tensor:
        """Map ``u`` in ``[0, 1]`` to the physical range (differentiable)."""
        return denormalise_columns((self,), u[..., None])[..., 0]

    def normalise(self, value: torch.Tensor) -> torch.Tensor:
        """Map a physical value to ``[0, 1]``; the inverse of :meth:`denormalise`."""
        return normalise_columns((self,), value[..., None])[..., 0]

    def sample(
        self, shape: tuple[int, ...] | int = (), generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Draw values uniformly in the normalised range (so log scales spread evenly)."""
        shape = (shape,) if isinstance(shape, int) else tuple(shape)
        return self.denormalise(torch.rand(shape, generator=generator))

    def contains(self, value: float) -> bool:
        """Whether a physical value is inside the declared range."""
        return self.minimum <= value <= self.maximum

    def describe(self) -> str:
        """One human line: ``threshold_db [-60, 0] dB (default -20, linear)``."""
        return (
            f"{self.name} [{self.minimum:g}, {self.maximum:g}] {self.unit} "
            f"(default {self.default:g}, {self.scale})"
        )


# -- the one implementation of normalising settings --------------------------------------------


def _ranges(
    specs: Sequence[ParamSpec], like: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per column: the range's ends, whether it is on a log scale, and where the
    normalised range starts and how wide it is (of the log, on a log scale), in
    ``like``'s dtype and device."""
    low = like.new_tensor([spec.minimum for spec in specs])
    high = like.new_tensor([spec.maximum for spec in specs])
    log = torch.tensor([spec.scale == "log" for spec in specs], device=like.device)
    start = like.new_tensor([math.log(s.minimum) if s.scale == "log" else s.minimum
                             for s in specs])
    span = like.new_tensor([
        math.log(s.maximum) - math.log(s.minimum) if s.scale == "log" else s.maximum - s.minimum
        for s in specs
    ])
    return low, high, log, start, span


def normalise_columns(specs: Sequence[ParamSpec], values: torch.Tensor) -> torch.Tensor:
    """``(..., P)`` physical settings to ``[0, 1]``, column ``i`` by ``specs[i]``.

    The one implementation: :meth:`ParamSpec.normalise`, the emulators' network
    inputs and the chain all call it. Values are held in range first; a log
    scale spaces the range geometrically. A handful of tensor operations for
    every column at once (differentiable; nothing is taken the log of unless it
    is on a log scale).
    """
    if not values.is_floating_point():
        values = values.float()
    low, high, log, start, span = _ranges(specs, values)
    value = values.clamp(low, high)
    value = torch.where(log, torch.where(log, value, 1.0).log(), value)
    return (value - start) / span


def denormalise_columns(specs: Sequence[ParamSpec], normalised: torch.Tensor) -> torch.Tensor:
    """``(..., P)`` values in ``[0, 1]`` to physical settings: the inverse of
    :func:`normalise_columns` (values outside ``[0, 1]`` are held at its ends)."""
    if not normalised.is_floating_point():
        normalised = normalised.float()
    _, _, log, start, span = _ranges(specs, normalised)
    value = start + normalised.clamp(0.0, 1.0) * span
    # exp only where the scale is log: a linear column's exp could overflow, and where()
    # would pass its infinite derivative times zero (NaN) back.
    return torch.where(log, torch.where(log, value, 0.0).exp(), value)
