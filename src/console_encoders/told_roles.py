"""An encoder that is told each track's role instead of hearing it: for diagnosis only.

A console that does not learn the conventions in its data either cannot
recognise the roles (the encoder is the bottleneck) or cannot learn the
decisions even knowing them (the loss, the parameterisation or the data is).
Training the same console with this encoder, under the same loss and budget,
tells the two apart. Its embedding is a one-hot of the role, so it hears
nothing: whoever runs it must :meth:`ToldRoles.tell` it the roles of the rows
it will see (``console train`` and the generalisation benchmark do, from the
sessions' metadata), and mixing stems nobody labelled is refused.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from console.data.engineer import STYLES
from console.encoder import Encoder
from console.errors import ConsoleError

#: The vocabulary: every role the rule-based engineer knows (``other`` for the rest).
ROLE_VOCABULARY = tuple(STYLES)


class ToldRoles(Encoder):
    """One-hot of each track's role, as told by :meth:`tell` (no audio is heard)."""

    name = "told-roles"
    description = ("Diagnosis only: a one-hot of each track's role, told by the caller "
                   "(console train and the benchmark tell it from session metadata).")

    def __init__(self) -> None:
        super().__init__()
        self.embed_dim = len(ROLE_VOCABULARY)
        self._queue: list[str] = []

    def tell(self, roles: Sequence[str]) -> None:
        """The roles of the next rows to encode, in order (replaces what was not used)."""
        self._queue = [r if r in ROLE_VOCABULARY else "other" for r in roles]

    def forward(self, audio: torch.Tensor, sample_rate: int) -> torch.Tensor:
        rows = audio.shape[0]
        if len(self._queue) < rows:
            raise ConsoleError(
                "The told-roles encoder hears nothing: it mixes only tracks whose roles it "
                "was told (by console train or the benchmark, from session metadata); use "
                "a console with a listening encoder such as mel-stats for your stems."
            )
        roles, self._queue = self._queue[:rows], self._queue[rows:]
        index = torch.tensor([ROLE_VOCABULARY.index(r) for r in roles], device=audio.device)
        return torch.nn.functional.one_hot(index, self.embed_dim).to(audio.dtype)
