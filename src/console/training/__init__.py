"""Training: a resumable, distributed loop shared by consoles and emulators."""

from console.training.config import TrainConfig
from console.training.loop import Trainer, TrainingTask

__all__ = ["TrainConfig", "Trainer", "TrainingTask"]
