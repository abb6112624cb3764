"""Checkpoints: damaged files are refused in one line, and files stay proportionate."""

from __future__ import annotations

import io

import pytest
import torch

from console import Console
from console.errors import CheckpointError
from console.mixer import create_mixer, load_mixer
from console_effects.emulator import CompressorEmulator
from tests.conftest import TINY_VGGISH

SR = 16000


def one_line(exc: pytest.ExceptionInfo) -> str:
    message = str(exc.value)
    assert "\n" not in message and "Traceback" not in message
    return message


def size_of(data: dict) -> int:
    buffer = io.BytesIO()
    torch.save(data, buffer)
    return len(buffer.getvalue())


# -- non-finite weights (issue 15, item 6) ----------------------------------------------


def test_a_console_with_nan_weights_is_refused_at_load(tiny_console, tmp_path):
    console = tiny_console()
    with torch.no_grad():
        console.post_processor.net[0].weight[0, 0] = float("nan")
    console.save(tmp_path / "nan.pt")
    with pytest.raises(CheckpointError, match="NaN or infinite weights") as exc:
        Console.load(tmp_path / "nan.pt")
    assert "post_processor.net.0.weight" in one_line(exc)


def test_a_mixer_with_infinite_weights_is_refused_at_load(tmp_path):
    mixer = create_mixer("wave-u-net")
    with torch.no_grad():
        next(mixer.parameters()).view(-1)[0] = float("inf")
    mixer.save(tmp_path / "mixer.pt")
    with pytest.raises(CheckpointError, match="NaN or infinite weights"):
        load_mixer(tmp_path / "mixer.pt")


def test_emulator_weights_with_nan_are_refused_at_load(tmp_path):
    emulator = CompressorEmulator()
    with torch.no_grad():
        next(emulator.network.parameters()).view(-1)[0] = float("nan")
    emulator.save(tmp_path / "comp.pt")
    with pytest.raises(CheckpointError, match="NaN or infinite weights"):
        CompressorEmulator(tmp_path / "comp.pt")


# -- damaged console checkpoints (issue 15, item 10) -------------------------------------


@pytest.fixture
def data(tiny_console) -> dict:
    return tiny_console().checkpoint()


def test_a_checkpoint_without_a_spec_is_refused(data):
    del data["spec"]
    with pytest.raises(CheckpointError, match="names no effect chain") as exc:
        Console.from_checkpoint(data, source="c.pt")
    assert one_line(exc).startswith("c.pt")


def test_a_spec_that_does_not_fit_the_weights_is_refused(data):
    data["spec"] = "gain+eq:dsp+pan"  # more settings: the post-processor's last layer is wider
    with pytest.raises(CheckpointError, match="does not fit the console") as exc:
        Console.from_checkpoint(data, source="c.pt")
    assert "wrong shapes" in one_line(exc)


def test_a_spec_naming_an_unknown_effect_is_refused(data):
    data["spec"] = "gain+nosuch"
    with pytest.raises(CheckpointError, match="c.pt") as exc:
        Console.from_checkpoint(data, source="c.pt")
    one_line(exc)


@pytest.mark.parametrize(
    "options",
    [{"colour": "red"}, {"channels": "abc"}, ["fc", 3], {**TINY_VGGISH, "embed_dim": -1}],
)
def test_bad_encoder_options_are_refused(data, options):
    data["encoder_options"] = options
    with pytest.raises(CheckpointError, match="c.pt") as exc:
        Console.from_checkpoint(data, source="c.pt")
    one_line(exc)


@pytest.mark.parametrize("hidden", ["abc", 0, -3, 2.5, True, None])
def test_a_bad_post_processor_width_is_refused(data, hidden):
    data["hidden"] = hidden
    with pytest.raises(CheckpointError, match="'hidden' must be a positive whole number"):
        Console.from_checkpoint(data, source="c.pt")


def test_a_checkpoint_without_weights_is_refused(data):
    data["state_dict"] = "weights"
    with pytest.raises(CheckpointError, match="holds no state_dict"):
        Console.from_checkpoint(data, source="c.pt")


# -- proportionate files (issue 15, item 13) ---------------------------------------------


def test_frozen_emulator_weights_are_not_stored_again_and_load_back(tmp_path):
    torch.manual_seed(0)
    console = Console.from_spec("gain+comp:greybox+pan", encoder="vggish",
                                encoder_options=TINY_VGGISH, hidden=8)
    data = console.checkpoint()
    assert not any(k.startswith("chain.") for k in data["state_dict"])
    assert data["rebuilt"]["keys"] and all(k.startswith("chain.") for k in data["rebuilt"]["keys"])
    emulator = sum(v.numel() for k, v in console.state_dict().items() if k.startswith("chain."))
    rest = sum(v.numel() for k, v in console.state_dict().items() if not k.startswith("chain."))
    assert size_of(data) < 4 * rest + 0.1 * 4 * emulator + 50_000
    console.save(tmp_path / "c.pt")
    loaded = Console.load(tmp_path / "c.pt")
    x = 0.1 * torch.randn(1, 2, SR)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x, sample_rate=SR).mix, console(x, sample_rate=SR).mix)


def test_trained_effect_weights_are_stored(tmp_path):
    console = Console.from_spec("gain+comp:greybox+pan", encoder="vggish",
                                encoder_options=TINY_VGGISH, hidden=8)
    with torch.no_grad():
        next(console.chain.parameters()).view(-1)[0] += 1.0  # trained with --train-effects
    console.save(tmp_path / "c.pt")
    data = torch.load(tmp_path / "c.pt", weights_only=True)
    changed = next(k for k, _ in console.chain.named_parameters())
    assert f"chain.{changed}" in data["state_dict"]
    loaded = Console.load(tmp_path / "c.pt")
    torch.testing.assert_close(loaded.state_dict()[f"chain.{changed}"],
                               console.state_dict()[f"chain.{changed}"])


def test_other_installed_emulator_weights_are_refused_not_used(tmp_path, monkeypatch):
    console = Console.from_spec("gain+comp:greybox+pan", encoder="vggish",
                                encoder_options=TINY_VGGISH, hidden=8)
    console.save(tmp_path / "c.pt")
    other = CompressorEmulator()
    with torch.no_grad():
        next(other.network.parameters()).view(-1)[0] += 0.5
    other.save(tmp_path / "comp.pt")
    replaced = tmp_path / "comp.pt"
    monkeypatch.setattr(CompressorEmulator, "shipped_weights", lambda cls=None: replaced)
    with pytest.raises(CheckpointError, match="other ones") as exc:
        Console.load(tmp_path / "c.pt")
    one_line(exc)


def test_a_frozen_encoder_from_a_weights_file_is_not_stored_again(tmp_path):
    torch.manual_seed(1)
    donor = Console.from_spec("gain+pan", encoder="vggish", encoder_options=TINY_VGGISH, hidden=8)
    torch.save(donor.encoder.network.state_dict(), tmp_path / "vggish.pt")
    options = {**TINY_VGGISH, "weights": str(tmp_path / "vggish.pt")}
    console = Console.from_spec("gain+pan", encoder="vggish", encoder_options=options, hidden=8)
    console.encoder.requires_grad_(False)  # console train --freeze-encoder
    data = console.checkpoint()
    assert not any(k.startswith("encoder.") for k in data["state_dict"])
    loaded = Console.from_checkpoint(data)
    torch.testing.assert_close(loaded.state_dict(), console.state_dict())


def test_version_1_checkpoints_still_load(tiny_console):
    console = tiny_console()
    data = console.checkpoint()
    data["format_version"] = 1
    del data["rebuilt"]
    loaded = Console.from_checkpoint(data)
    torch.testing.assert_close(loaded.state_dict(), console.state_dict())


def test_saving_does_not_move_the_random_stream():
    console = Console.from_spec("gain+comp:greybox+pan", encoder="vggish",
                                encoder_options=TINY_VGGISH, hidden=8)
    torch.manual_seed(3)
    console.checkpoint()
    after_save = torch.rand(3)
    torch.manual_seed(3)
    torch.testing.assert_close(torch.rand(3), after_save)
