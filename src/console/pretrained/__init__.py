"""Consoles trained by ``scripts/train_pretrained.py`` and shipped with the package.

One name, one meaning: a shipped console is named by its *resolved* spec,
the chain it really runs (``gain+eq:dsp+comp:dsp+reverb:dsp+pan`` for the
DSP chain; ``gain+eq+comp+reverb+pan`` means the default emulators and finds the
console trained through them, ``gain+eq:greybox+comp:greybox+reverb:greybox+pan``, which
was trained when those were named ``:tcn`` and loads as what its weights are). A name is resolved
the way :meth:`Console.from_spec` resolves it before it is looked up, so
``gain+pan`` finds the console whose chain ``Console.from_spec("gain+pan")``
would build, and nothing else. Each console has a model card beside it (data,
steps, hardware, time, validation and test figures against the baselines).

File names stand ``~`` for the ``:`` of a variant, which some file systems refuse.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from console.console import Console
from console.errors import CheckpointError, ConsoleError
from console.spec import resolve_spec

DEFAULT = "gain+pan"


def _folder() -> Path:
    return Path(str(resources.files(__name__)))


def file_stem(spec: str) -> str:
    return spec.replace(":", "~")


def available() -> list[str]:
    """Resolved specs of the shipped consoles."""
    return sorted(p.stem.replace("~", ":") for p in _folder().glob("*.pt"))


def resolve(name: str) -> str:
    """The resolved spec a name stands for (``"gain+pan"`` stays; bare families get variants).

    A name that is no valid spec raises the spec's own error (with close names). No
    effect is built, so looking up a chain of emulators loads none of their weights.
    """
    return resolve_spec(name)


def is_shipped(name: str) -> bool:
    try:
        return resolve(name) in available()
    except ConsoleError:
        return False


def model_card(spec: str = DEFAULT) -> str:
    """The card of the shipped console for ``spec``; empty when none is shipped."""
    try:
        path = _folder() / f"{file_stem(resolve(spec))}.md"
    except ConsoleError:
        return ""
    return path.read_text(encoding="utf-8") if path.exists() else ""


def load_pretrained(spec: str = DEFAULT) -> Console:
    """The shipped console for ``spec``; an error lists the consoles that are shipped."""
    try:
        resolved = resolve(spec)
    except ConsoleError as exc:
        shipped = ", ".join(available()) or "none"
        raise CheckpointError(f"{exc} (Shipped consoles: {shipped}.)") from exc
    path = _folder() / f"{file_stem(resolved)}.pt"
    if not path.exists():
        shipped = ", ".join(available()) or "none"
        means = f" (which means {resolved})" if resolved != spec else ""
        raise CheckpointError(
            f"No console is shipped for {spec!r}{means}; shipped: {shipped}. Name one of "
            f"those, train one with `console train` and pass --checkpoint, or ask for an "
            f"untrained console."
        )
    return Console.load(path)
