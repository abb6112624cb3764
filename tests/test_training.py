"""The training loop: it learns, it resumes exactly, it refuses a foreign state."""

import pytest
import torch

from console import CheckpointError, Console
from console.data.collate import collate_examples
from console.losses import StereoSTFTLoss
from console.training import TrainConfig, Trainer
from console.training.mixing_task import MixingTask
from tests.conftest import TINY_VGGISH
from tests.training_fixtures import SR, ToneSessions

LOSS = {"fft_sizes": (64, 256, 1024), "hop_sizes": (16, 64, 256), "win_lengths": (64, 256, 1024)}


def make_trainer(out, steps, seed=0, lr=3e-3, val=None, spec="gain+pan", checkpoint_every=3):
    torch.manual_seed(seed)
    console = Console.from_spec(spec, encoder="vggish", encoder_options=TINY_VGGISH, hidden=32)
    task = MixingTask(console, StereoSTFTLoss(**LOSS), SR)
    config = TrainConfig(
        steps=steps, batch_size=4, lr=lr, warmup_steps=0, val_every=5,
        checkpoint_every=checkpoint_every,
        seed=seed,
    )
    return Trainer(
        task, ToneSessions(16), collate_examples, config, out, val_data=val, progress=False
    )


@pytest.mark.slow
def test_a_few_steps_lower_the_validation_loss(tmp_path):
    trainer = make_trainer(tmp_path, steps=30, val=ToneSessions(8, seed=1), checkpoint_every=15)
    before = trainer.validate()
    history = trainer.fit()
    assert history.val[-1][1] < 0.85 * before
    assert (tmp_path / "console.pt").exists() and (tmp_path / "best.pt").exists()
    assert (tmp_path / "loss.png").read_bytes()[:4] == b"\x89PNG"
    loaded = Console.load(tmp_path / "console.pt")
    for name, value in trainer.model.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[name], value)


def test_resume_continues_from_the_saved_step_with_the_same_state(tmp_path):
    straight = make_trainer(tmp_path / "a", steps=6)
    straight.fit()

    interrupted = make_trainer(tmp_path / "b", steps=6)
    interrupted.fit(until=3)  # as if killed after the checkpoint at step 3
    resumed = make_trainer(tmp_path / "b", steps=6, seed=0)
    assert resumed.resume() and resumed.step == 3
    assert [s for s, _ in resumed.history.train] == [1, 2, 3]
    resumed.fit()
    assert resumed.step == 6
    for name, value in straight.model.state_dict().items():
        torch.testing.assert_close(resumed.model.state_dict()[name], value, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(
        torch.tensor([v for _, v in resumed.history.train]),
        torch.tensor([v for _, v in straight.history.train]),
        rtol=1e-5, atol=1e-6,
    )


def test_a_state_of_another_run_is_refused(tmp_path):
    make_trainer(tmp_path, steps=3).fit()
    other = make_trainer(tmp_path, steps=6, spec="gain")
    with pytest.raises(CheckpointError, match="another run"):
        other.resume()


def test_learning_rate_warms_up_then_decays():
    cfg = TrainConfig(steps=100, warmup_steps=10, lr=1.0)
    factors = [cfg.lr_factor(s) for s in range(100)]
    assert factors[0] == pytest.approx(0.1) and factors[9] == pytest.approx(1.0)
    assert factors[10] == pytest.approx(1.0) and factors[-1] < 0.01
    assert all(a >= b for a, b in zip(factors[10:], factors[11:], strict=False))


def test_resume_removes_only_what_an_interrupted_atomic_write_left(tmp_path):
    make_trainer(tmp_path, steps=3).fit()
    stale = [tmp_path / ".train_state.k2j_9x0a.tmp.pt", tmp_path / ".console.abcdefgh.tmp.pt",
             tmp_path / ".loss.12345678.tmp.png"]
    kept = [tmp_path / "notes.tmp.pt", tmp_path / ".train_state.tmp.pt",
            tmp_path / ".train_state.short.tmp.pt", tmp_path / "train_state.abcdefgh.tmp.pt"]
    for path in stale + kept:
        path.write_bytes(b"partial")
    trainer = make_trainer(tmp_path, steps=6)
    assert trainer.resume() and trainer.step == 3
    assert not any(path.exists() for path in stale)
    assert all(path.exists() for path in kept)


def test_a_fresh_run_also_clears_an_interrupted_first_save(tmp_path):
    (tmp_path / ".train_state.abcdefgh.tmp.pt").write_bytes(b"partial")
    assert not make_trainer(tmp_path, steps=3).resume()
    assert not list(tmp_path.glob(".*tmp*"))


def make_frozen_encoder_trainer(out, steps, encoder_seed=0):
    torch.manual_seed(encoder_seed)
    console = Console.from_spec("gain+pan", encoder="vggish",
                                encoder_options=TINY_VGGISH, hidden=32)
    task = MixingTask(console, StereoSTFTLoss(**LOSS), SR, freeze_encoder=True)
    config = TrainConfig(steps=steps, batch_size=4, lr=3e-3, warmup_steps=0, checkpoint_every=3)
    return Trainer(task, ToneSessions(16), collate_examples, config, out, progress=False)


def test_frozen_weights_are_not_kept_in_the_training_state_and_resume_stays_exact(tmp_path):
    straight = make_frozen_encoder_trainer(tmp_path / "a", steps=6)
    straight.fit()
    interrupted = make_frozen_encoder_trainer(tmp_path / "b", steps=6)
    interrupted.fit(until=3)
    state = torch.load(tmp_path / "b" / "train_state.pt", weights_only=True)
    assert state["model"] and not any(k.startswith("encoder.") for k in state["model"])
    resumed = make_frozen_encoder_trainer(tmp_path / "b", steps=6)
    assert resumed.resume()
    resumed.fit()
    for name, value in straight.model.state_dict().items():
        torch.testing.assert_close(resumed.model.state_dict()[name], value, rtol=1e-5, atol=1e-6)


def test_resuming_with_other_frozen_weights_is_refused(tmp_path):
    make_frozen_encoder_trainer(tmp_path, steps=3).fit()
    other = make_frozen_encoder_trainer(tmp_path, steps=6, encoder_seed=1)
    with pytest.raises(CheckpointError, match="frozen weights"):
        other.resume()


def _synth_songs(tmp_path, count: int, seed: int):
    """``count`` generated 4 s songs at 16 kHz and a dataset of their 1 s segments."""
    from console.cli.main import main as cli
    from console.data import MultitrackDataset, scan_folder

    data = tmp_path / "songs"
    assert cli(["make-sessions", str(data), "--n", str(count), "--duration", "4", "--seed",
                str(seed), "--sample-rate", "16000", "--source", "synth"]) == 0
    songs = scan_folder(data)
    return songs, MultitrackDataset(songs, sample_rate=16000, segment_seconds=1.0)


def test_a_frozen_encoder_hears_each_stem_once_and_whole(tmp_path):
    """Training with a frozen encoder uses whole-track embeddings, as console mix does."""
    from console.data import collate_examples
    from console.losses.stereo import StereoSTFTLoss
    from console.streaming import listen_to_file
    from console.training.mixing_task import MixingTask

    songs, dataset = _synth_songs(tmp_path, count=2, seed=2)
    torch.manual_seed(0)
    console = Console.from_spec("gain+pan", hidden=16)
    task = MixingTask(console, StereoSTFTLoss(), 16000, freeze_encoder=True)
    assert task.hears_whole_tracks
    batch = collate_examples([dataset[0], dataset[1]])
    cpu = torch.device("cpu")
    assert task._paths(batch) is None  # not told the songs: segments are encoded
    task.know_songs(songs)
    paths = task._paths(batch)
    calls = []
    original = console.encoder.forward
    console.encoder.forward = lambda audio, rate: calls.append(audio.shape) or original(audio,
                                                                                      rate)
    embeddings = task._embeddings(paths, cpu)
    heard = len(calls)
    assert heard == int(batch.mask.sum()) and all(shape[-1] == 4 * 16000 for shape in calls)
    task.loss(console, batch)
    task._embeddings(paths, cpu)
    assert len(calls) == heard  # each stem heard once, never a segment
    song = next(s for s in songs if s.name == batch.songs[0])
    first, _ = listen_to_file(console, song.stems[0], 16000, mono=True)
    assert torch.allclose(embeddings[0], first[0])
    trainable = MixingTask(console, StereoSTFTLoss(), 16000)
    trainable.know_songs(songs)
    assert not trainable.hears_whole_tracks and trainable._embeddings(paths, cpu) is None


def test_training_trims_every_track_by_its_whole_song_loudness(tmp_path):
    """A segment where a part rests must not move the fader the engineer's balance asks for."""
    from console.audio import read_audio
    from console.data import collate_examples
    from console.data.loudness import loudness_lufs
    from console.decisions import REFERENCE_LUFS, input_trim_db
    from console.losses.stereo import StereoSTFTLoss
    from console.training.mixing_task import MixingTask

    songs, dataset = _synth_songs(tmp_path, count=1, seed=3)
    torch.manual_seed(0)
    console = Console.from_spec("gain+pan", hidden=16)
    task = MixingTask(console, StereoSTFTLoss(), 16000)
    task.know_songs(songs)
    batch = collate_examples([dataset[0]])
    trims = task._trims(task._paths(batch), torch.device("cpu"))
    expected = [REFERENCE_LUFS - loudness_lufs(read_audio(p)[0].mean(0, keepdim=True), 16000)
                for p in songs[0].stems]
    assert torch.allclose(trims, torch.tensor(expected), atol=0.05)
    segment = input_trim_db(batch.stems[0], 16000)
    assert float((trims - segment).abs().max()) > 0.1  # the segment would have said otherwise
    console.eval()
    with torch.no_grad():
        result = console(batch.stems, batch.mask, sample_rate=16000, trims=trims)
    gains = result.params[0, :, 0]
    assert torch.allclose(gains, trims.clamp(-48, 24), atol=1e-4)  # an untrained console

