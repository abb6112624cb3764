"""Run under torchrun by test_distributed.py: train a few steps, dump this rank's weights."""

import sys
from pathlib import Path

import torch

from console import Console
from console.data.collate import collate_examples
from console.losses import StereoSTFTLoss
from console.training import TrainConfig, Trainer, distributed
from console.training.mixing_task import MixingTask
from tests.conftest import TINY_VGGISH
from tests.training_fixtures import SR, ToneSessions


def main(out: Path) -> None:
    assert distributed.init_from_env(), "expected to run under torchrun"
    rank = distributed.rank()
    torch.manual_seed(rank)  # different initial weights: DDP must broadcast rank 0's
    console = Console.from_spec("gain+pan", encoder="vggish",
                                encoder_options=TINY_VGGISH, hidden=16)
    initial = {k: v.clone() for k, v in console.state_dict().items()}
    loss = StereoSTFTLoss(fft_sizes=(64, 256), hop_sizes=(16, 64), win_lengths=(64, 256))
    config = TrainConfig(steps=4, batch_size=2, lr=1e-2, warmup_steps=0, checkpoint_every=4)
    trainer = Trainer(
        MixingTask(console, loss, SR), ToneSessions(8), collate_examples, config, out,
        device="cpu", progress=False,
    )
    seen = [trainer._epoch_batches(0, 0)]
    trainer.fit()
    torch.save(
        {
            "state": trainer.model.state_dict(),
            "initial": initial,
            "batches": seen,
            "world": distributed.world_size(),
        },
        out / f"rank{rank}.pt",
    )
    torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
