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
- ``reverb``: pedalboard's ``Reverb`` (JUCE's Freeverb) through a measured
  mapping (:func:`freeverb_settings`): ``decay_s`` sets the room size whose
  measured mid-frequency RT60 it is (:data:`FREEVERB_RT60`; Freeverb rings
  at least 0.63 s, so shorter decays are held there), ``brightness`` sets
  ``damping = 1 - brightness``, ``width`` is Freeverb's width. The wet signal
  alone is rendered (stereo in, the mono clip on both sides), scaled so that
  its response to an impulse has unit energy per channel as ``reverb:dsp``'s
  has, delayed by ``predelay_ms`` (rounded to a sample), and mixed with the
  dry clip exactly: ``(1 - mix) x + mix wet``. ``--reference dsp`` trains
  against ``reverb:dsp`` instead.

A reference maps one mono clip ``(T,)`` float32 and its physical settings
``(P,)`` to the processed audio ``(C, T)``, at the rate the emulator is
trained at. This module knows emulators only by the attributes it reads
(:class:`Emulated`), so :mod:`console_effects.emulator` can import it.
"""

from __future__ import annotations

import math
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

# -- reverb: pedalboard's Freeverb ----------------------------------------------------------

#: Room sizes and dampings of :data:`FREEVERB_RT60`'s columns and rows.
FREEVERB_ROOM_SIZES: tuple[float, ...] = (
    *(round(0.05 * i, 2) for i in range(20)), 0.96, 0.97, 0.98, 0.99, 1.0,
)
FREEVERB_DAMPINGS: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0)
#: Mid-frequency RT60 (s) of pedalboard 0.9.26's ``Reverb`` by damping (rows) and room size
#: (columns): T30 of its response to an impulse in the 500 Hz-1 kHz band, mean energy of both
#: channels, width 1 (``python scripts/measure_freeverb.py`` prints this table). Damping also
#: shortens the highs: at damping 1 the 4 kHz octave rings 0.73 (room size 0) to 0.22 (room
#: size 1) times as long as the mid band, at damping 0.5 0.88 to 0.43; ``reverb:dsp`` gives
#: ``4 ** -(1 - brightness)`` (0.25 at brightness 0, 0.5 at 0.5).
FREEVERB_RT60: tuple[tuple[float, ...], ...] = (
    # damping 0.0
    (0.642, 0.679, 0.721, 0.767, 0.818, 0.875, 0.943, 1.019, 1.105, 1.207, 1.322, 1.463, 1.636,
     1.834, 2.092, 2.429, 2.888, 3.547, 4.602, 6.517, 7.120, 7.853, 8.734, 9.851, 11.273),
    # damping 0.25
    (0.640, 0.677, 0.719, 0.765, 0.815, 0.871, 0.938, 1.014, 1.099, 1.201, 1.314, 1.454, 1.625,
     1.820, 2.074, 2.406, 2.854, 3.498, 4.521, 6.330, 6.896, 7.583, 8.396, 9.434, 10.738),
    # damping 0.5
    (0.637, 0.673, 0.715, 0.761, 0.810, 0.866, 0.932, 1.007, 1.091, 1.191, 1.303, 1.440, 1.608,
     1.801, 2.048, 2.374, 2.807, 3.433, 4.416, 6.117, 6.641, 7.272, 8.030, 8.963, 10.153),
    # damping 0.75
    (0.633, 0.669, 0.710, 0.755, 0.804, 0.858, 0.923, 0.996, 1.079, 1.177, 1.287, 1.420, 1.583,
     1.773, 2.012, 2.328, 2.742, 3.347, 4.279, 5.887, 6.368, 6.940, 7.644, 8.479, 9.567),
    # damping 1.0
    (0.626, 0.661, 0.701, 0.745, 0.793, 0.845, 0.908, 0.979, 1.060, 1.155, 1.263, 1.391, 1.547,
     1.732, 1.959, 2.262, 2.652, 3.230, 4.103, 5.618, 6.060, 6.590, 7.229, 8.011, 8.979),
)
#: The wet level at which Freeverb's wet gain is 1 (JUCE scales ``wet_level`` by 3).
FREEVERB_UNITY_WET = 1.0 / 3.0


def _log_rt60_row(damping: float) -> np.ndarray:
    """ln of the measured RT60 at every room size, interpolated between the damping rows."""
    table = np.log(np.asarray(FREEVERB_RT60, dtype=np.float64))
    return np.array([np.interp(damping, FREEVERB_DAMPINGS, column) for column in table.T])


def freeverb_rt60(room_size: float, damping: float) -> float:
    """The measured mid-frequency RT60 (s) of Freeverb at these settings (interpolated)."""
    return math.exp(np.interp(room_size, FREEVERB_ROOM_SIZES, _log_rt60_row(damping)))


def freeverb_settings(decay_s: float, brightness: float, width: float) -> dict[str, float]:
    """pedalboard ``Reverb`` settings for the reverb's ``decay_s``, ``brightness`` and ``width``.

    ``damping = 1 - brightness`` (brightness 1: no damping, every band decays
    alike, as in ``reverb:dsp``; 0: Freeverb's darkest); ``room_size`` is the
    one whose measured mid-frequency RT60 (:data:`FREEVERB_RT60`, interpolated
    in log time) is ``decay_s`` at that damping, held in ``[0, 1]``: Freeverb
    cannot ring shorter than about 0.63 s nor longer than 9-11 s.
    """
    damping = min(max(1.0 - float(brightness), 0.0), 1.0)
    room = np.interp(math.log(float(decay_s)), _log_rt60_row(damping), FREEVERB_ROOM_SIZES)
    return {"room_size": float(room), "damping": damping,
            "width": min(max(float(width), 0.0), 1.0)}


def freeverb_impulse_response(
    room_size: float, damping: float, width: float, sample_rate: int, length: int | None = None
) -> np.ndarray:
    """``(2, L)`` wet response of pedalboard's ``Reverb`` at unity wet gain to a stereo impulse.

    ``length`` defaults to 1.5 times the undamped RT60 at this room size (-90 dB).
    """
    import pedalboard

    if length is None:
        length = math.ceil(1.5 * freeverb_rt60(room_size, 0.0) * sample_rate)
    reverb = pedalboard.Reverb(room_size=room_size, damping=damping, width=width,
                               wet_level=FREEVERB_UNITY_WET, dry_level=0.0)
    impulse = np.zeros((2, length), dtype=np.float32)
    impulse[:, 0] = 1.0
    return np.asarray(reverb(impulse, sample_rate, reset=True), dtype=np.float32)


def _pedalboard_reverb(pb: Any, names: list[str], sample_rate: int) -> Reference:
    """The reverb reference: Freeverb's wet signal, normalised and delayed, mixed exactly."""

    def process(x: np.ndarray, params: np.ndarray) -> np.ndarray:
        p = dict(zip(names, params.astype(float).tolist(), strict=True))
        settings = freeverb_settings(p["decay_s"], p["brightness"], p["width"])
        ir = freeverb_impulse_response(**settings, sample_rate=sample_rate)
        gain = 1.0 / math.sqrt(float(np.square(ir, dtype=np.float64).sum(axis=1).mean()))
        reverb = pb.Reverb(**settings, wet_level=FREEVERB_UNITY_WET, dry_level=0.0)
        mono = np.ascontiguousarray(x, dtype=np.float32)
        wet = np.asarray(reverb(np.stack([mono, mono]), sample_rate, reset=True))
        delay = min(round(p["predelay_ms"] * sample_rate / 1000.0), mono.shape[-1])
        delayed = np.zeros_like(wet)
        delayed[:, delay:] = wet[:, : wet.shape[-1] - delay]
        mix = p["mix"]
        return ((1.0 - mix) * mono[None] + (mix * gain) * delayed).astype(np.float32)

    return process


#: Families whose pedalboard reference is more than a board of one row's settings.
PEDALBOARD_REFERENCES: dict[str, Callable[[Any, list[str], int], Reference]] = {
    "reverb": _pedalboard_reverb,
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
    if family not in PEDALBOARD_BUILDERS and family not in PEDALBOARD_REFERENCES:
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

        if emulator.family in PEDALBOARD_REFERENCES:
            return PEDALBOARD_REFERENCES[emulator.family](pedalboard, names, sample_rate)
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
