"""Training an effect emulator: its output against the reference's, L1 plus MR-STFT."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import auraloss
import torch
from torch import nn

from console.effect import Effect


class EmulatorTask:
    """The :class:`~console.training.Trainer` task of ``console train-emulator``.

    ``model`` is an emulator effect (``eq:tcn``, ``comp:greybox``, ...) built untrained;
    its weights are unfrozen here. The loss is ``l1_weight * L1`` on the
    waveform plus the multi-resolution STFT loss (auraloss), as for the
    paper's emulators. The artifacts are the effect's own checkpoints:
    ``emulator.pt`` (latest) and ``best.pt`` (best validation loss), each
    loadable as ``NAME@PATH``.
    """

    def __init__(
        self,
        emulator: Effect,
        sample_rate: int,
        describe: dict[str, Any],
        l1_weight: float = 1.0,
    ) -> None:
        self.model = emulator
        self.model.requires_grad_(True)
        self.sample_rate = int(sample_rate)
        self.l1_weight = float(l1_weight)
        self.stft = auraloss.freq.MultiResolutionSTFTLoss()
        self._describe = {**describe, "l1_weight": self.l1_weight}

    def loss(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        estimate = model(batch["x"], batch["params"], self.sample_rate)
        target = batch["y"]
        return self.l1_weight * (estimate - target).abs().mean() + self.stft(estimate, target)

    def note(self, **info: Any) -> None:
        """Add facts about the run (a response fit, say) to what its checkpoints record."""
        self._describe.update(info)

    def describe(self) -> dict[str, Any]:
        return dict(self._describe)

    def export(self, out_dir: Path, best: bool) -> None:
        self.model.save(  # type: ignore[operator]
            Path(out_dir) / ("best.pt" if best else "emulator.pt"), info=self.describe()
        )
