"""The shipped console loads, mixes, and beats the mono baseline on sessions it never saw."""

import pytest
import torch

from console import CheckpointError, pretrained
from console.chain import EffectChain
from console.data.synthetic import make_session
from console.losses import StereoSTFTLoss


def test_the_default_console_is_shipped_with_a_model_card():
    assert pretrained.DEFAULT in pretrained.available()
    card = pretrained.model_card()
    assert "mono" in card and "random" in card and "steps" in card


def test_an_unknown_pretrained_spec_lists_the_shipped_ones():
    with pytest.raises(CheckpointError, match="gain\\+pan"):
        pretrained.load_pretrained("gain+nothing")


def test_it_beats_the_mono_mix_on_unseen_procedural_sessions():
    console = pretrained.load_pretrained().eval()
    chain = EffectChain.from_spec(console.spec)
    loss = StereoSTFTLoss()
    scores = {"console": 0.0, "mono": 0.0}
    for seed in (777001, 777002):
        session = make_session(seed, 4.0, 22050, "synth")
        stems = session.stems
        k = stems.shape[0]
        with torch.no_grad():
            mix = console(stems[None], sample_rate=22050).mix
            mono = chain(stems, chain.defaults().expand(k, -1), 22050).sum(0, keepdim=True)
        scores["console"] += float(loss(mix, session.mix[None]))
        scores["mono"] += float(loss(mono, session.mix[None]))
    assert scores["console"] < scores["mono"]
