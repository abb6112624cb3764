"""The diagnostic told-roles encoder: a one-hot of each track's role, told by the caller."""

from __future__ import annotations

import pytest
import torch

from console.console import Console
from console.data.collate import Batch
from console.decisions import Decisions
from console.errors import ConsoleError
from console.losses.stereo import StereoSTFTLoss
from console.training.mixing_task import MixingTask
from console_encoders.told_roles import ROLE_VOCABULARY


def test_it_encodes_the_roles_it_was_told_in_order_and_refuses_untold_tracks():
    console = Console.from_spec("gain+pan", encoder="told-roles", hidden=16,
                                decisions=Decisions.generalising())
    encoder = console.encoder
    encoder.tell(["kick", "no-such-role", "hihat"])
    codes = encoder(torch.zeros(3, 100), 16000)
    assert codes.argmax(-1).tolist() == [ROLE_VOCABULARY.index(r)
                                         for r in ("kick", "other", "hihat")]
    with pytest.raises(ConsoleError, match="told"):
        encoder(torch.zeros(1, 100), 16000)  # the queue is used up


def test_training_tells_it_the_unmasked_tracks_roles_song_by_song():
    torch.manual_seed(0)
    console = Console.from_spec("gain+pan", encoder="told-roles", hidden=16,
                                decisions=Decisions.generalising())
    seen = []
    original = console.encoder.forward

    def spy(audio, sample_rate):
        seen.extend(console.encoder._queue[: audio.shape[0]])
        return original(audio, sample_rate)

    console.encoder.forward = spy
    mask = torch.tensor([[True, True, False], [True, False, False]])
    batch = Batch(stems=0.1 * torch.randn(2, 3, 8000), mask=mask,
                  mix=0.1 * torch.randn(2, 2, 8000),
                  names=[["a", "b", "c"], ["d", "e", "f"]],
                  roles=[["kick", "snare", "bass"], ["lead", "keys", "pad"]],
                  songs=["x", "y"], starts=torch.zeros(2, dtype=torch.long))
    MixingTask(console, StereoSTFTLoss(), 16000).loss(console, batch)
    assert seen == ["kick", "snare", "lead"]
