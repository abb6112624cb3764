"""Declaring an effect parameter once, in physical units.

A :class:`ParamSpec` is the single source for everything that needs to know
about a parameter: the network maps ``[0, 1]`` to its range, data generation
samples it, the JSON export names it, and the CLI and docs list it.
"""

from __future__ import annotations

import math
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
        u = u.clamp(0.0, 1.0)
        if self.scale == "log":
            lo, hi = math.log(self.minimum), math.log(self.maximum)
            return torch.exp(lo + u * (hi - lo))
        return self.minimum + u * (self.maximum - self.minimum)

    def normalise(self, value: torch.Tensor) -> torch.Tensor:
        """Map a physical value to ``[0, 1]``; the inverse of :meth:`denormalise`."""
        value = value.clamp(self.minimum, self.maximum)
        if self.scale == "log":
            lo, hi = math.log(self.minimum), math.log(self.maximum)
            return (torch.log(value) - lo) / (hi - lo)
        return (value - self.minimum) / (self.maximum - self.minimum)

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
