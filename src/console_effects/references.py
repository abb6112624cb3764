"""Reference effects that the emulators learn from: pedalboard where it maps, else the DSP.

``reference_for(emulator, "auto")`` picks pedalboard (a GPL, optional extra,
imported only here and only when asked for) where a faithful mapping from the
emulator's ParamSpecs exists, and this project's DSP effect otherwise:

- ``eq``: pedalboard's ``LowShelfFilter``, three ``PeakFilter`` and a
  ``HighShelfFilter`` (cookbook biquads, the same as ``eq:dsp``).
- ``comp``: pedalboard's ``Compressor`` (JUCE, hard knee) then ``Gain`` for
  ``makeup_db``. It has no knee, so ``knee_db`` does not change the reference:
  an emulator trained this way has a hard knee whatever ``knee_db`` says.
  Train with ``--reference dsp`` (``comp:dsp``) for a soft knee.
- ``reverb``: pedalboard's Freeverb takes other parameters, so ``reverb:dsp``
  is always the reference.

A reference maps one mono clip ``(T,)`` float32 and its physical settings
``(P,)`` to the processed audio ``(C, T)``, at the rate the emulator is
trained at. This module knows emulators only by the attributes it reads
(:class:`Emulated`), so :mod:`console_effects.emulator` can import it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, Protocol

import numpy as np
import torch

from console.errors import ConsoleError
from console.params import ParamSpec
from console.plugins import get_plugins

ReferenceKind = Literal["auto", "pedalboard", "dsp"]
Reference = Callable[[np.ndarray, np.ndarray], np.ndarray]


class Emulated(Protocol):
    """What a reference is built from: an emulator class's family, settings and DSP twin."""

    family: str
    params: tuple[ParamSpec, ...]
    dsp_reference: str


def _pedalboard_eq(pb: Any, p: dict[str, float]) -> Any:
    return pb.Pedalboard([
        pb.LowShelfFilter(p["low_shelf_freq_hz"], p["low_shelf_gain_db"], p["low_shelf_q"]),
        *[
            pb.PeakFilter(p[f"band{i}_freq_hz"], p[f"band{i}_gain_db"], p[f"band{i}_q"])
            for i in (1, 2, 3)
        ],
        pb.HighShelfFilter(p["high_shelf_freq_hz"], p["high_shelf_gain_db"], p["high_shelf_q"]),
    ])


def _pedalboard_comp(pb: Any, p: dict[str, float]) -> Any:
    compressor = pb.Compressor(
        threshold_db=p["threshold_db"], ratio=p["ratio"],
        attack_ms=p["attack_ms"], release_ms=p["release_ms"],
    )
    return pb.Pedalboard([compressor, pb.Gain(p["makeup_db"])])


#: Families with a faithful pedalboard equivalent, and how to build it from one row of settings.
PEDALBOARD_BUILDERS: dict[str, Callable[[Any, dict[str, float]], Any]] = {
    "eq": _pedalboard_eq,
    "comp": _pedalboard_comp,
}


def pedalboard_available() -> bool:
    try:
        import pedalboard  # noqa: F401
    except ImportError:
        return False
    return True


def resolve_kind(family: str, kind: ReferenceKind) -> Literal["pedalboard", "dsp"]:
    """What ``auto`` means for ``family`` here; refuse pedalboard where it cannot serve."""
    if kind == "dsp":
        return "dsp"
    if family not in PEDALBOARD_BUILDERS:
        if kind == "pedalboard":
            raise ConsoleError(
                f"pedalboard has no faithful equivalent of the {family} effect; use "
                f"--reference dsp (or auto)."
            )
        return "dsp"
    if pedalboard_available():
        return "pedalboard"
    if kind == "pedalboard":
        raise ConsoleError(
            "The pedalboard reference needs pedalboard: pip install 'console[reference]', "
            "or use --reference dsp."
        )
    return "dsp"


def reference_for(emulator: Emulated, kind: ReferenceKind, sample_rate: int) -> Reference:
    """The reference processor, at ``sample_rate``, that ``emulator`` is trained against."""
    resolved = resolve_kind(emulator.family, kind)
    names = [spec.name for spec in emulator.params]
    if resolved == "pedalboard":
        import pedalboard

        build = PEDALBOARD_BUILDERS[emulator.family]

        def process_pedalboard(x: np.ndarray, params: np.ndarray) -> np.ndarray:
            board = build(pedalboard, dict(zip(names, params.astype(float).tolist(), strict=True)))
            y = board(x[None].astype(np.float32), sample_rate, reset=True)
            return np.asarray(y, dtype=np.float32)

        return process_pedalboard

    effect = get_plugins().resolve("effect", emulator.dsp_reference).create()

    def process_dsp(x: np.ndarray, params: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            y = effect(
                torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))[None, None],
                torch.from_numpy(np.asarray(params, dtype=np.float32))[None],
                sample_rate,
            )
        return y[0].numpy()

    return process_dsp
