"""Training emulators: a few steps lower the loss; the command trains, exports and resumes."""

from __future__ import annotations

import math

import pytest
import soundfile as sf
import torch

from console.chain import EffectChain
from console.cli.main import main
from console.cli.train_emulator import trainable_emulators
from console.hookspecs import hookimpl
from console.plugins import get_plugins
from console.training import TrainConfig, Trainer
from console.training.emulator_data import EffectPairDataset, collate_pairs, split_of
from console.training.emulator_task import EmulatorTask
from console_effects.emulator import CompressorEmulator, TCNEmulator
from console_effects.gain import Gain
from console_effects.tcn import TCNConfig
from tests.test_emulator import SR, procedural_clips, tiny_config


def test_a_tiny_emulator_trained_for_a_few_steps_lowers_its_loss(tmp_path):
    torch.manual_seed(0)
    emulator = CompressorEmulator(config=tiny_config(CompressorEmulator))
    with torch.no_grad():  # untrained, it reads its knobs as comp:dsp does: start it elsewhere
        emulator.network.map.linear.bias.copy_(torch.tensor([0.5, -0.5, 1.5, 1.5, 1.0]))
    reference = CompressorEmulator.reference("dsp")
    clips = procedural_clips(4, 1.0, seed=1)
    data = EffectPairDataset(clips, emulator.params, reference, 4096, 16, seed=0)
    task = EmulatorTask(emulator, SR, {"name": "test"})
    fixed = collate_pairs([data[i] for i in range(4)])
    with torch.no_grad():
        before = float(task.loss(emulator, fixed))
    config = TrainConfig(steps=20, batch_size=4, lr=3e-3, warmup_steps=0, val_every=1000,
                         checkpoint_every=1000, weight_decay=0.0)
    Trainer(task, data, collate_pairs, config, tmp_path, progress=False).fit()
    with torch.no_grad():
        after = float(task.loss(emulator, fixed))
    assert math.isfinite(after) and after < 0.9 * before
    # the exported checkpoint loads as comp:greybox@FOLDER and reproduces the trained network
    loaded = get_plugins().resolve("effect", "comp:greybox").create(str(tmp_path))
    x, p = fixed["x"], fixed["params"]
    torch.testing.assert_close(loaded(x, p, SR), emulator(x, p, SR))



@pytest.mark.parametrize("emulator", ["comp", "comp:tcn"])
def test_train_emulator_command_trains_and_resumes(tmp_path, capsys, emulator):
    """The family's default (the grey-box) and the paper's TCN, each by its name."""
    folder = tmp_path / "audio"
    folder.mkdir()
    names: dict[str, list[str]] = {"train": [], "validation": [], "test": []}
    for i in range(400):  # four files of each split, chosen by the name hash
        name = f"take{i:02d}.wav"
        if len(names[split_of(name)]) < 4:
            names[split_of(name)].append(name)
    clips = procedural_clips(12, 0.5, seed=2)
    for clip, name in zip(clips, sum(names.values(), []), strict=True):
        sf.write(folder / name, clip.numpy(), SR)
    out = tmp_path / "run"
    argv = ["train-emulator", emulator, "--out", str(out), "--audio", str(folder),
            "--reference", "dsp", "--steps", "2", "--batch-size", "2", "--channels", "4",
            "--segment-seconds", "0.1", "--val-examples", "2", "--val-every", "2",
            "--no-progress"]
    assert main(argv) == 0
    assert (out / "emulator.pt").exists() and (out / "best.pt").exists()
    argv[argv.index("--steps") + 1] = "3"
    assert main(argv) == 0
    assert "resumed at step 2" in capsys.readouterr().err
    effect = EffectChain.from_spec(f"comp@{out / 'emulator.pt'}").effects[0]
    assert effect.network.config.channels == 4
    assert effect.name == get_plugins().resolve("effect", emulator).name


class FaderEmulator(TCNEmulator):
    """A third party's emulator of the analytic fader, registered by its own plugin."""

    name = "fader:neural"
    family = "fader"
    dsp_reference = "gain"
    description = "A fader emulated by a tiny TCN (a test plugin)."
    params = Gain.params

    @classmethod
    def default_config(cls) -> TCNConfig:
        return TCNConfig(num_params=1, channels=4, kernel_size=3, dilations=(1, 2))

    def process(self, x, params, sample_rate):
        return x + self.run_network(x, params, sample_rate)[:, :, 0]


class FaderPlugin:
    @hookimpl
    def register_effects(self, register):
        register(FaderEmulator)


def audio_folder(folder, seconds=0.3):
    folder.mkdir()
    names: dict[str, list[str]] = {"train": [], "validation": [], "test": []}
    for i in range(400):
        name = f"take{i:02d}.wav"
        if len(names[split_of(name)]) < 2:
            names[split_of(name)].append(name)
    for clip, name in zip(procedural_clips(6, seconds, seed=5), sum(names.values(), []),
                          strict=True):
        sf.write(folder / name, clip.numpy(), SR)
    return folder


def test_a_third_party_emulator_is_trained_by_its_family_name(tmp_path, capsys):
    folder = audio_folder(tmp_path / "audio")
    out = tmp_path / "run"
    with get_plugins().temporary(FaderPlugin()):
        assert "fader:neural" in trainable_emulators()
        code = main(["train-emulator", "fader", "--out", str(out), "--audio", str(folder),
                     "--reference", "dsp", "--steps", "2", "--batch-size", "2",
                     "--segment-seconds", "0.05", "--val-examples", "2", "--val-every", "2",
                     "--no-progress"])
        assert code == 0
        assert f"use it as fader:neural@{out}" in capsys.readouterr().out
        trained = EffectChain.from_spec(f"fader:neural@{out}").effects[0]
    assert isinstance(trained, FaderEmulator)


def test_an_effect_that_cannot_be_trained_is_refused_with_the_trainable_ones(tmp_path, capsys):
    code = main(["train-emulator", "gain", "--out", str(tmp_path / "run"), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and "No trainable emulator named 'gain'" in err
    assert ("comp:greybox, comp:tcn, eq:greybox, eq:tcn, reverb:greybox, reverb:tcn"
            in err)
