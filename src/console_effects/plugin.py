"""Registers the built-in effects through the ``console`` entry point, as a third party would."""

from console.hookspecs import hookimpl
from console_effects.compressor import Compressor
from console_effects.emulator import CompressorEmulator, EQEmulator, ReverbEmulator
from console_effects.eq import ParametricEQ
from console_effects.gain import Gain
from console_effects.pan import Pan
from console_effects.reverb import Reverb


@hookimpl
def register_effects(register):
    register(Gain)
    register(Pan)
    register(ParametricEQ)
    register(Compressor)
    register(Reverb)
    register(EQEmulator, default=True)
    register(CompressorEmulator, default=True)
    register(ReverbEmulator, default=True)
