"""Losses between a predicted and a reference stereo mix."""

from console.losses.base import Loss
from console.losses.stereo import StereoSTFTLoss

__all__ = ["Loss", "StereoSTFTLoss"]
