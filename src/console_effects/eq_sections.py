"""The EQ emulator's network: one linear conditioned TCN per kind of section, in series.

The parametric EQ is a low shelf, three bells and a high shelf in series, each
a linear time-invariant filter set by its own frequency, gain and Q. The
emulator keeps that structure: a linear TCN (see :mod:`console_effects.tcn`)
for shelves at the low end, one shared by the three bells and one for the high
shelf, each conditioned on its section's three settings only and each adding
its output to a dry path. Every section is then a small problem (three
settings, not fifteen) whose error does not spread to the others, and the
whole is linear and time-invariant like the EQ it stands in for.
"""

from __future__ import annotations

import torch
from torch import nn

from console_effects.tcn import ConditionedTCN, TCNConfig

#: Network kind of each section, in filter order (as in ``console_effects.eq.SECTIONS``).
SECTION_KINDS = ("low_shelf", "bell", "bell", "bell", "high_shelf")
#: Settings per section: frequency, gain and Q.
PARAMS_PER_SECTION = 3


class SectionedEQNetwork(nn.Module):
    """``(N, 1, T)`` audio and ``(N, 15)`` normalised settings to the equalised ``(N, 1, T)``.

    ``config`` describes one section's TCN (three settings, linear). It offers
    what ``console.training.response_fit`` needs to fit a linear emulator
    section by section: :attr:`section_kinds`, :attr:`sections` and
    :meth:`section_response`.
    """

    #: Kind of each section in filter order; sections of one kind share a network.
    section_kinds: tuple[str, ...] = SECTION_KINDS

    def __init__(self, config: TCNConfig) -> None:
        super().__init__()
        if not config.linear or config.num_params != PARAMS_PER_SECTION:
            raise ValueError(
                f"EQ sections need linear TCNs of {PARAMS_PER_SECTION} settings, got {config}."
            )
        self.config = config
        self.sections = nn.ModuleDict({kind: ConditionedTCN(config) for kind in SECTION_KINDS})

    @property
    def receptive_field(self) -> int:
        return len(SECTION_KINDS) * (self.config.receptive_field - 1) + 1

    def settings_of(self, normalised: torch.Tensor, index: int) -> torch.Tensor:
        """The ``(N, 3)`` settings of section ``index``."""
        return normalised[:, index * PARAMS_PER_SECTION : (index + 1) * PARAMS_PER_SECTION]

    def forward(self, x: torch.Tensor, normalised: torch.Tensor) -> torch.Tensor:
        for index, kind in enumerate(SECTION_KINDS):
            x = x + self.sections[kind](x, self.settings_of(normalised, index))
        return x

    def frequency_response(self, normalised: torch.Tensor, omega: torch.Tensor) -> torch.Tensor:
        """``(N, F)`` complex transfer function of the whole EQ at ``omega`` rad/sample."""
        response = torch.ones(
            normalised.shape[0], omega.shape[0], dtype=torch.complex128, device=omega.device
        )
        for index, kind in enumerate(SECTION_KINDS):
            response = response * self.section_response(
                kind, self.settings_of(normalised, index), omega
            )
        return response

    def section_response(
        self, kind: str, settings: torch.Tensor, omega: torch.Tensor
    ) -> torch.Tensor:
        """``(N, F)`` complex response of one kind of section (dry path included)."""
        return 1.0 + self.sections[kind].frequency_response(settings, omega)[:, 0, 0]
