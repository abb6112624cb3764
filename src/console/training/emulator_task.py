"""Training an effect emulator: its output against the reference's, L1 plus MR-STFT."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import auraloss
import torch
from torch import nn

from console.effect import Effect

#: Frame of :func:`envelope_error`, and how far below the target's mean level it stops caring.
ENVELOPE_FRAME, ENVELOPE_FLOOR = 1024, 1e-6


def envelope_error(estimate: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference of log frame energies (nepers), broadband and of the slopes.

    The waveform error is ruled by the loud early part of a response; this term
    weighs every frame of the tail alike down to 60 dB below the target's mean
    level (:data:`ENVELOPE_FLOOR`), so decay times are fitted too. The slopes
    (first differences) stand for the highs, where damping acts.
    """
    def frames(signal: torch.Tensor) -> torch.Tensor:
        flat = signal.reshape(-1, 1, signal.shape[-1]).square()
        return nn.functional.avg_pool1d(flat, ENVELOPE_FRAME, ENVELOPE_FRAME)

    error = estimate.new_zeros(())
    for est, tgt in ((estimate, target), (estimate.diff(dim=-1), target.diff(dim=-1))):
        est_frames, tgt_frames = frames(est), frames(tgt)
        floor = ENVELOPE_FLOOR * tgt_frames.mean(dim=-1, keepdim=True) + 1e-20
        error = error + (torch.log(est_frames + floor) - torch.log(tgt_frames + floor)).abs().mean()
    return error


class EmulatorTask:
    """The :class:`~console.training.Trainer` task of ``console train-emulator``.

    ``model`` is an emulator effect (``eq:tcn``, ``comp:greybox``, ...) built untrained;
    its weights are unfrozen here. The loss is ``l1_weight * L1`` on the
    waveform plus the multi-resolution STFT loss (auraloss), as for the
    paper's emulators, plus ``envelope_weight`` times :func:`envelope_error`
    (0 by default; a reverb's tail, whose decay the other terms weigh little).
    The artifacts are the effect's own checkpoints:
    ``emulator.pt`` (latest) and ``best.pt`` (best validation loss), each
    loadable as ``NAME@PATH``.
    """

    def __init__(
        self,
        emulator: Effect,
        sample_rate: int,
        describe: dict[str, Any],
        l1_weight: float = 1.0,
        envelope_weight: float = 0.0,
    ) -> None:
        self.model = emulator
        self.model.requires_grad_(True)
        self.sample_rate = int(sample_rate)
        self.l1_weight = float(l1_weight)
        self.envelope_weight = float(envelope_weight)
        self.stft = auraloss.freq.MultiResolutionSTFTLoss()
        self._describe = {**describe, "l1_weight": self.l1_weight,
                          "envelope_weight": self.envelope_weight}

    def loss(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        estimate = model(batch["x"], batch["params"], self.sample_rate)
        target = batch["y"]
        loss = self.l1_weight * (estimate - target).abs().mean() + self.stft(estimate, target)
        if self.envelope_weight:
            loss = loss + self.envelope_weight * envelope_error(estimate, target)
        return loss

    def note(self, **info: Any) -> None:
        """Add facts about the run (a response fit, say) to what its checkpoints record."""
        self._describe.update(info)

    def describe(self) -> dict[str, Any]:
        return dict(self._describe)

    def export(self, out_dir: Path, best: bool) -> None:
        self.model.save(  # type: ignore[operator]
            Path(out_dir) / ("best.pt" if best else "emulator.pt"), info=self.describe()
        )
