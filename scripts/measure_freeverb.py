"""Measure pedalboard's ``Reverb`` (Freeverb) for the reverb reference's mapping.

Renders the wet response of ``pedalboard.Reverb`` to a stereo impulse on a grid
of room sizes and dampings and measures, on the mean energy of both channels:

- the mid-frequency RT60 (T30 of the 500 Hz-1 kHz band, see
  :func:`console_effects.reverb_emulator.band_rt60`), the quantity ``decay_s``
  promises: :data:`console_effects.references.FREEVERB_RT60` is this table;
- the 4 kHz octave's RT60 over the mid one, what the damping does to the highs
  (printed for the docs; ``reverb:dsp`` gives ``4 ** -(1 - brightness)``).

    python scripts/measure_freeverb.py            # prints the tables as Python

Takes about five minutes on one thread (the longest responses are 17 s).
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import torch

from console_effects.functional.freeverb import COMB_TUNINGS, STEREO_SPREAD
from console_effects.references import (
    FREEVERB_DAMPINGS,
    FREEVERB_ROOM_SIZES,
    freeverb_impulse_response,
)
from console_effects.reverb_emulator import band_rt60

SAMPLE_RATE = 44100


def render_length(room_size: float) -> int:
    """1.5 x the longest comb's undamped RT60 (JUCE: feedback 0.7 + 0.28 room_size): -90 dB."""
    feedback = 0.7 + 0.28 * room_size
    delay_s = (max(COMB_TUNINGS) + STEREO_SPREAD) / 44100
    return math.ceil(1.5 * -3.0 * delay_s / math.log10(feedback) * SAMPLE_RATE)


def measure(room_size: float, damping: float) -> tuple[float, float]:
    """(mid RT60 in s, 4 kHz RT60 / mid RT60) of pedalboard's Reverb at these settings."""
    ir = freeverb_impulse_response(room_size, damping, 1.0, SAMPLE_RATE,
                                   render_length(room_size))
    mid = band_rt60(ir, SAMPLE_RATE, "mid")
    return mid, band_rt60(ir, SAMPLE_RATE, "4k") / mid


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args()
    torch.set_num_threads(1)
    start = time.process_time()
    rt60, ratio = [], []
    for damping in FREEVERB_DAMPINGS:
        row = [measure(room, damping) for room in FREEVERB_ROOM_SIZES]
        rt60.append([mid for mid, _ in row])
        ratio.append([r for _, r in row])
    print("FREEVERB_RT60 = (")
    for damping, row in zip(FREEVERB_DAMPINGS, rt60, strict=True):
        print(f"    # damping {damping}")
        print("    (" + ", ".join(f"{v:.3f}" for v in row) + "),")
    print(")")
    print("\n4 kHz RT60 / mid RT60 (rows: damping; columns: room size)")
    print("room  " + " ".join(f"{r:5.2f}" for r in FREEVERB_ROOM_SIZES))
    for damping, row in zip(FREEVERB_DAMPINGS, ratio, strict=True):
        print(f"{damping:4.2f}  " + " ".join(f"{v:5.2f}" for v in row))
    print(f"\n{np.size(rt60)} responses in {time.process_time() - start:.0f} CPU-s")


if __name__ == "__main__":
    main()
