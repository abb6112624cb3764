"""Start a console's training from another console's weights (fine-tuning, or a longer chain).

A console of the same spec takes every weight; one with a different chain
still takes its encoder and the post-processor layers whose shapes agree, so a
``gain+eq+comp+reverb+pan`` console can start from the shipped ``gain+pan``.
"""

from __future__ import annotations

from pathlib import Path

import attrs

from console.console import Console
from console.errors import CheckpointError


@attrs.frozen
class WarmStart:
    """What :func:`warm_start` copied and what it left at its initial value."""

    source: str
    copied: tuple[str, ...]
    kept: tuple[str, ...]

    def summary(self) -> str:
        total = len(self.copied) + len(self.kept)
        line = f"started from {self.source}: {len(self.copied)} of {total} weight tensors copied"
        return line + (f"; new: {', '.join(self.kept[:4])}" if self.kept else "")


def load_source(source: str | Path) -> tuple[Console, str]:
    """A console checkpoint file, or the spec of a shipped pretrained console."""
    path = Path(source).expanduser()
    if path.is_file():
        return Console.load(path), str(path)
    from console.pretrained import available, is_shipped, load_pretrained

    if is_shipped(str(source)):
        return load_pretrained(str(source)), f"the pretrained {source} console"
    raise CheckpointError(
        f"--init {source}: not a console checkpoint file nor a shipped console "
        f"({', '.join(available()) or 'none shipped'})."
    )


def warm_start(
    console: Console, source: str | Path, loaded: tuple[Console, str] | None = None
) -> WarmStart:
    """Copy into ``console`` every weight of ``source`` with the same name and shape.

    ``loaded`` is what :func:`load_source` already returned for ``source``, so a
    caller that looked at the donor first does not read it twice.
    """
    donor, name = loaded or load_source(source)
    if donor.encoder_name != console.encoder_name:
        raise CheckpointError(
            f"--init {source}: its encoder is {donor.encoder_name!r}, this console's is "
            f"{console.encoder_name!r}; give --encoder {donor.encoder_name} and its options."
        )
    theirs = donor.state_dict()
    ours = console.state_dict()
    copied = {k: theirs[k] for k, v in ours.items() if k in theirs and theirs[k].shape == v.shape}
    if not copied:
        raise CheckpointError(f"--init {source}: no weight fits this console (other sizes?).")
    console.load_state_dict(copied, strict=False)
    kept = tuple(k for k in ours if k not in copied)
    return WarmStart(name, tuple(copied), kept)
