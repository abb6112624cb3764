"""Consoles trained by ``scripts/train_pretrained.py`` and shipped with the package.

Each ``SPEC.pt`` has a model card ``SPEC.md`` beside it (data, steps,
hardware, time, held-out loss against the baselines).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from console.console import Console
from console.errors import CheckpointError

DEFAULT = "gain+pan"


def _folder() -> Path:
    return Path(str(resources.files(__name__)))


def available() -> list[str]:
    """Specs of the shipped consoles."""
    return sorted(p.stem for p in _folder().glob("*.pt"))


def model_card(spec: str = DEFAULT) -> str:
    path = _folder() / f"{spec}.md"
    return path.read_text(encoding="utf-8") if path.exists() else ""


def load_pretrained(spec: str = DEFAULT) -> Console:
    """The shipped console for ``spec``; an error lists the specs that exist."""
    path = _folder() / f"{spec}.pt"
    if not path.exists():
        shipped = ", ".join(available()) or "none"
        raise CheckpointError(
            f"No pretrained console for {spec!r} is installed (shipped: {shipped}); train "
            f"one with `console train` and pass --checkpoint."
        )
    return Console.load(path)
