"""Registers the built-in encoders through the ``console`` entry point."""

from console.hookspecs import hookimpl
from console_encoders.mel_stats import MelStats
from console_encoders.musicnn import Musicnn
from console_encoders.told_roles import ToldRoles
from console_encoders.vggish import VGGish


@hookimpl
def register_encoders(register):
    register(VGGish)
    register(MelStats)
    register(ToldRoles)
    register(Musicnn)
