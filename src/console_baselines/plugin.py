"""Registers the built-in baseline mixers through the ``console`` entry point."""

from console.hookspecs import hookimpl
from console_baselines.loudness import LoudnessMixer
from console_baselines.mono import MonoMixer
from console_baselines.random_mix import RandomMixer
from console_baselines.wave_u_net import MixWaveUNet


@hookimpl
def register_mixers(register):
    register(MonoMixer)
    register(RandomMixer)
    register(LoudnessMixer)
    register(MixWaveUNet)
