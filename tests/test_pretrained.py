"""The shipped console loads, mixes, and beats the mono baseline on sessions it never saw."""

import pytest
import torch

from console import CheckpointError, pretrained
from console.chain import EffectChain
from console.data.synthetic import make_session
from console.losses import StereoSTFTLoss

SHIPPED = (
    "gain+pan",
    "gain+eq:dsp+comp:dsp+reverb:dsp+pan",
    "gain+eq:greybox+comp:greybox+reverb:greybox+pan",
)


@pytest.mark.parametrize("spec", SHIPPED)
def test_each_model_card_describes_the_weights_shipped_beside_it(spec):
    """The card's facts are read back from the checkpoint, not from the card's own words."""
    assert pretrained.DEFAULT in pretrained.available()
    assert spec in pretrained.available()
    card = pretrained.model_card(spec)
    console = pretrained.load_pretrained(spec)
    params = sum(p.numel() for p in console.parameters())
    assert f"Spec: `{console.spec}`" in card
    assert f"encoder `{console.encoder_name}` with options `{console.encoder_options}`" in card
    assert f"{params / 1e6:.2f} M parameters" in card
    words = " ".join(card.split())
    kind, width = console.post_processor_kind, console.hidden
    # cards written before the set-aware post-processor existed name the width alone
    assert (f"post-processor `{kind}` of width {width}." in words
            or (kind == "mlp" and f"post-processor width {width}." in words))


def test_an_unknown_pretrained_spec_lists_the_shipped_ones():
    with pytest.raises(CheckpointError, match="gain\\+pan"):
        pretrained.load_pretrained("gain+nothing")


@pytest.mark.slow
@pytest.mark.parametrize("spec", SHIPPED)
def test_it_beats_the_mono_mix_on_unseen_procedural_sessions(spec):
    console = pretrained.load_pretrained(spec).eval()
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


def test_one_name_one_meaning():
    """A bare family means the default emulator everywhere: the emulator console answers."""
    from console import Console

    emulated = Console.from_spec("gain+eq+comp+reverb+pan", encoder="mel-stats").spec
    assert pretrained.resolve("gain+eq+comp+reverb+pan") == emulated
    assert emulated == "gain+eq:greybox+comp:greybox+reverb:greybox+pan"
    assert pretrained.load_pretrained("gain+eq+comp+reverb+pan").spec == emulated
    assert "gain+eq:dsp+pan" not in pretrained.available()
    with pytest.raises(CheckpointError, match="shipped: .*gain\\+pan"):
        pretrained.load_pretrained("gain+eq:dsp+pan")
    for spec in pretrained.available():
        assert pretrained.load_pretrained(spec).spec == spec
    assert Console.pretrained().spec == pretrained.DEFAULT
    assert set(pretrained.available()) == set(SHIPPED)


def test_the_emulator_console_saved_under_the_old_names_loads_as_its_grey_boxes():
    """It was trained when the grey-boxes were named :tcn; its checkpoint still says so."""
    import torch

    path = pretrained._folder() / f"{pretrained.file_stem(SHIPPED[2])}.pt"
    assert torch.load(path, weights_only=True)["spec"] == "gain+eq:tcn+comp:tcn+reverb:tcn+pan"
    console = pretrained.load_pretrained("gain+eq:greybox+comp:greybox+reverb:greybox+pan")
    assert [type(e).__name__ for e in console.chain.effects[1:4]] == [
        "EQGreyBox", "CompressorGreyBox", "ReverbGreyBox"]
    with pytest.raises(CheckpointError, match="No console is shipped"):
        pretrained.load_pretrained("gain+eq:tcn+comp:tcn+reverb:tcn+pan")


def test_mix_refuses_a_spec_with_no_shipped_console_and_names_the_shipped(tmp_path, capsys):
    from console.cli.main import main
    from tests.conftest import write_stems

    write_stems(tmp_path / "stems", 2)
    code = main(["mix", str(tmp_path / "stems"), "-o", str(tmp_path / "m.wav"),
                 "--spec", "gain+eq:dsp+pan"])
    assert code == 2
    assert "gain+eq:dsp+comp:dsp+reverb:dsp+pan" in capsys.readouterr().err
    assert not (tmp_path / "m.wav").exists()


@pytest.mark.parametrize("spec", ["gain+eq+comp+reverb+pan",
                                  "gain+eq:greybox+comp:greybox+reverb:greybox+pan"])
def test_mix_finds_the_emulator_console_by_its_names(tmp_path, spec):
    from console.cli.main import main
    from tests.conftest import write_stems

    write_stems(tmp_path / "stems", 2)
    out = tmp_path / "m.wav"
    assert main(["mix", str(tmp_path / "stems"), "-o", str(out), "--spec", spec, "-q"]) == 0
    assert out.is_file()
