"""Losses between a predicted and a reference stereo mix."""

from console.losses.balance import BalancedStereoLoss
from console.losses.base import Loss
from console.losses.stereo import StereoSTFTLoss

__all__ = ["BalancedStereoLoss", "Loss", "StereoSTFTLoss"]
