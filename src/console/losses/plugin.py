"""Registers the built-in losses through the ``console`` entry point."""

from console.hookspecs import hookimpl
from console.losses.balance import BalancedStereoLoss
from console.losses.stereo import StereoSTFTLoss


@hookimpl
def register_losses(register):
    register(StereoSTFTLoss)
    register(BalancedStereoLoss)
