"""Registers the built-in effects through the ``console`` entry point, as a third party would.

Each family's default is the variant that measures best in ``docs/emulators.rst``
(``benchmarks/bench_fast_effects.py``): the grey-box emulators.
"""

from console.hookspecs import hookimpl
from console_effects.compressor import Compressor
from console_effects.emulator import CompressorGreyBox, EQGreyBox, ReverbGreyBox
from console_effects.eq import ParametricEQ
from console_effects.gain import Gain
from console_effects.pan import Pan
from console_effects.reverb import Reverb
from console_effects.tcn_emulators import EQTCN, CompressorTCN, ReverbTCN


@hookimpl
def register_effects(register):
    register(Gain)
    register(Pan)
    register(ParametricEQ)
    register(Compressor)
    register(Reverb)
    register(EQGreyBox, default=True)
    register(CompressorGreyBox, default=True)
    register(ReverbGreyBox, default=True)
    register(EQTCN)
    register(CompressorTCN)
    register(ReverbTCN)
