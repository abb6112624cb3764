"""Long songs in bounded memory (issue 21, item 11): every block-wise step gives what the
whole-signal step gives, on audio short enough to hold whole.

The memory itself is measured by ``benchmarks/bench_long_mix.py``, not here.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import soundfile as sf
import torch

from console import streaming
from console.audio import BlockResampler, StemReader, read_audio, resample, write_audio
from console.chain import EffectChain
from console.cli.main import main
from console.data.loudness import loudness_batch, loudness_lufs
from console.decisions import Decisions, input_trim_db
from console.master import MasterSettings, master
from console.meter import LoudnessMeter
from console.plugins import get_plugins
from console.streaming import (
    decide_settings,
    excerpt_windows,
    is_memoryless,
    listen_to_file,
    render_blocks,
    write_mix,
)
from tests.conftest import write_stems


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks and file chunks a few hundred samples long, so short audio spans many."""
    monkeypatch.setattr(streaming, "BLOCK_FRAMES", 1000)
    monkeypatch.setattr(StemReader, "chunk", 777)


def _stems(folder, rates=(16000, 16000, 22050), seconds=(1.3, 1.0, 1.2)):
    """Noisy tones at several rates and lengths, one of them stereo."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    paths = []
    for k, (rate, length) in enumerate(zip(rates, seconds, strict=True)):
        t = np.arange(int(length * rate)) / rate
        audio = 0.3 * np.sin(2 * np.pi * 110 * (k + 1) * t) + 0.05 * rng.standard_normal(t.size)
        audio = audio * np.where(t < length / 2, 0.1, 1.0)
        if k == 0:
            audio = np.stack([audio, 0.5 * audio], axis=1)
        path = folder / f"s{k}.wav"
        sf.write(path, audio.astype(np.float32), rate, subtype="FLOAT")
        paths.append(path)
    return paths


@pytest.mark.parametrize("convention,channels", [("pyloudnorm", 2), ("torchaudio", 1)])
@pytest.mark.parametrize("rate", [8000, 11025, 44100])
@pytest.mark.parametrize("seconds", [0.3, 0.45, 2.37])
def test_the_block_meter_agrees_with_the_whole_signal_meters(convention, channels, rate,
                                                             seconds):
    n = int(seconds * rate)
    rng = np.random.default_rng(1)
    audio = (np.where(np.arange(n) < n // 2, 0.01, 0.3)
             * rng.standard_normal((channels, n))).astype(np.float32)
    audio[:, n // 3 : n // 3 + rate // 5] = 0.0
    whole = torch.from_numpy(audio)
    expected = (loudness_lufs(whole, rate) if convention == "pyloudnorm"
                else float(loudness_batch(whole, rate)[0]))
    for block in (1000, 4410, n):
        meter = LoudnessMeter(rate, n, channels, convention)
        for start in range(0, n, block):
            meter.feed(audio[:, start : start + block])
        assert meter.lufs() == pytest.approx(expected, abs=1e-4)


@pytest.mark.parametrize("convention", ["pyloudnorm", "torchaudio"])
def test_the_block_meter_hears_silence_as_silence(convention):
    meter = LoudnessMeter(16000, 16000, 1, convention)
    meter.feed(np.zeros((1, 16000)))
    assert meter.lufs() == -math.inf


@pytest.mark.parametrize("orig,target", [(48000, 44100), (16000, 44100), (44100, 16000),
                                         (22050, 44100), (44100, 44100)])
@pytest.mark.parametrize("n", [1, 5000, 48001])
def test_the_block_resampler_agrees_with_torchaudio(orig, target, n):
    x = torch.randn(n, generator=torch.Generator().manual_seed(n))
    expected = resample(x, orig, target)
    for block in (999, 4096, n):
        resampler = BlockResampler(orig, target)
        got = torch.cat([resampler.feed(x[s : s + block]) for s in range(0, n, block)]
                        + [resampler.finish()])
        assert got.shape == expected.shape
        torch.testing.assert_close(got, expected, atol=5e-5, rtol=0)  # float rounding of conv


@pytest.mark.parametrize("target", [16000, 22050, 44100])
def test_a_stem_reader_gives_the_whole_file_mono_and_resampled(tmp_path, small_blocks, target):
    path = _stems(tmp_path)[0]  # stereo at 16 kHz
    audio, rate = read_audio(path)
    expected = resample(audio.mean(dim=0), rate, target)
    with StemReader(path, target) as reader:
        assert reader.frames == expected.shape[-1]
        got = torch.cat([reader.read(1000) for _ in range(-(-reader.frames // 1000) + 1)])
    torch.testing.assert_close(got[: reader.frames], expected, atol=1e-5, rtol=0)
    assert not got[reader.frames :].any()  # silence after the end


def test_a_long_track_is_heard_as_excerpts_that_span_it(monkeypatch):
    assert excerpt_windows(1000, 100) == [(0, 1000)]
    monkeypatch.setattr(streaming, "LISTEN_FRAMES", 600)
    monkeypatch.setattr(streaming, "EXCERPT_SECONDS", 1.0)
    windows = excerpt_windows(10_000, 100)
    assert len(windows) == 6 and all(end - start == 100 for start, end in windows)
    assert windows[0][0] == 0 and windows[-1][1] == 10_000
    assert sum(end - start for start, end in windows) <= 600


@pytest.mark.parametrize("trimmed", [True, False])
def test_listening_in_blocks_hears_what_the_console_hears_whole(tmp_path, tiny_console,
                                                                small_blocks, trimmed):
    console = tiny_console(decisions=Decisions.generalising() if trimmed else None).eval()
    assert console.head.hears_trimmed == trimmed
    path = _stems(tmp_path)[2]
    audio, rate = read_audio(path)
    track = resample(audio.mean(dim=0), rate, 16000)[None]
    with torch.no_grad():
        expected_embedding, expected_trim = console.listen(track, 16000)
        embedding, heard = listen_to_file(console, path, 16000, mono=True)
    torch.testing.assert_close(heard.trim, expected_trim, atol=1e-3, rtol=0)  # float32
    torch.testing.assert_close(embedding, expected_embedding, atol=1e-4, rtol=1e-4)
    assert heard.peak == pytest.approx(float(track.abs().max()), abs=1e-4)


def test_a_long_track_trims_by_the_whole_and_encodes_the_excerpts(tmp_path, tiny_console,
                                                                  small_blocks, monkeypatch):
    monkeypatch.setattr(streaming, "LISTEN_FRAMES", 8000)
    monkeypatch.setattr(streaming, "EXCERPT_SECONDS", 0.125)  # 4 excerpts of 2000
    console = tiny_console(decisions=Decisions.generalising()).eval()
    path = _stems(tmp_path, rates=(16000,), seconds=(3.0,))[0]
    audio, _ = read_audio(path)
    track = audio.mean(dim=0)
    heard = torch.cat([track[a:b] for a, b in excerpt_windows(track.shape[-1], 16000)])
    assert heard.shape[-1] == 8000
    with torch.no_grad():
        whole_trim = input_trim_db(track[None], 16000)
        expected, _ = console.listen(heard[None], 16000, trim_db=whole_trim)
        embedding, heard = listen_to_file(console, path, 16000, mono=True)
    torch.testing.assert_close(heard.trim, whole_trim, atol=1e-3, rtol=0)  # torchaudio: float32
    torch.testing.assert_close(embedding, expected, atol=1e-4, rtol=1e-4)


def test_an_effect_that_says_it_is_memoryless_renders_the_same_in_blocks():
    """Every registered effect claiming it (a plugin's too) is checked: block by block on
    random audio and settings, it gives what it gives on the whole."""
    registry = get_plugins().registry("effect")
    claimed = sorted(name for name, component in registry.items()
                     if getattr(component.factory, "memoryless", False))
    assert {"gain", "pan"} <= set(claimed)
    assert not {"eq:dsp", "comp:dsp", "reverb:dsp"} & set(claimed)
    generator = torch.Generator().manual_seed(0)
    for name in claimed:
        chain = EffectChain.from_spec(name)
        effect = chain.effects[0]
        for channels in (1, 2):
            try:
                effect.output_channels(channels)
            except ValueError:
                continue
            audio = torch.randn(3, channels, 5000, generator=generator)
            settings = chain.denormalise(torch.rand(3, effect.num_params, generator=generator))
            whole = effect(audio, settings, 16000)
            blocks = torch.cat([effect(audio[..., s : s + 777], settings, 16000)
                                for s in range(0, 5000, 777)], dim=-1)
            torch.testing.assert_close(blocks, whole, msg=f"{name} is not memoryless")
    assert is_memoryless(EffectChain.from_spec("gain+pan"))
    assert not is_memoryless(EffectChain.from_spec("gain+eq:dsp+pan"))


@pytest.mark.parametrize("spec", ["gain", "pan", "gain+pan"])
def test_a_memoryless_chain_renders_block_by_block_as_whole(tmp_path, small_blocks, spec,
                                                            monkeypatch):
    chain = EffectChain.from_spec(spec)
    paths = _stems(tmp_path)
    settings = chain.denormalise(torch.rand(len(paths), chain.num_params,
                                            generator=torch.Generator().manual_seed(0)))
    frames = streaming.mix_frames(paths, 22050)
    blocks = list(render_blocks(chain, paths, settings, 22050, frames))
    assert len(blocks) > 10 and all(b.shape[-1] <= 1000 for b in blocks)
    monkeypatch.setattr(streaming, "is_memoryless", lambda chain: False)
    whole = torch.cat(list(render_blocks(chain, paths, settings, 22050, frames)), dim=-1)
    torch.testing.assert_close(torch.cat(blocks, dim=-1), whole, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("master_settings", [MasterSettings(), MasterSettings.off(),
                                             MasterSettings(loudness_lufs=-6.0)])
def test_writing_a_mix_block_by_block_masters_as_the_whole(tmp_path, small_blocks,
                                                           master_settings):
    rng = np.random.default_rng(3)
    mix = torch.from_numpy((0.2 * rng.standard_normal((2, 20500))).astype(np.float32))
    mix[:, 5000:9000] *= 0.01
    expected, report = master(mix, 16000, master_settings)
    write_audio(tmp_path / "whole.wav", expected, 16000)
    blocks = (mix[:, s : s + 1000] for s in range(0, mix.shape[-1], 1000))
    got = write_mix(blocks, mix.shape[-1], 16000, tmp_path / "blocks.wav", master_settings)
    assert got.input_lufs == pytest.approx(report.input_lufs, abs=1e-6)
    assert got.gain_db == pytest.approx(report.gain_db, abs=1e-6)
    assert got.output_peak_dbfs == pytest.approx(report.output_peak_dbfs, abs=1e-5)
    assert got.ceiling_limited == report.ceiling_limited
    whole, _ = sf.read(tmp_path / "whole.wav", dtype="float32")
    blockwise, rate = sf.read(tmp_path / "blocks.wav", dtype="float32")
    assert rate == 16000 and blockwise.shape == whole.shape
    np.testing.assert_allclose(blockwise, whole, atol=1e-6, rtol=1e-5)
    assert [p.name for p in tmp_path.iterdir()] != [] and not list(tmp_path.glob(".*"))


def test_a_mix_that_is_not_finite_writes_nothing(tmp_path):
    from console.errors import ConsoleError

    blocks = [torch.zeros(2, 100), torch.full((2, 100), float("nan"))]
    with pytest.raises(ConsoleError, match="NaN or infinite"):
        write_mix(iter(blocks), 200, 16000, tmp_path / "m.wav")
    assert not list(tmp_path.iterdir())


def test_an_integer_file_that_would_clip_writes_nothing(tmp_path):
    from console.errors import AudioInputError

    with pytest.raises(AudioInputError, match="would clip"):
        write_mix(iter([torch.full((2, 100), 2.0)]), 100, 16000, tmp_path / "m.flac",
                  MasterSettings.off())
    assert not list(tmp_path.iterdir())


def test_console_mix_in_blocks_writes_what_the_whole_console_mixes(
    tmp_path, tiny_console, small_blocks
):
    """The CLI (blocks, streamed decisions, streamed master) against the batched console."""
    paths = write_stems(tmp_path / "stems", 3, seconds=2.0)
    sf.write(tmp_path / "stems" / "late.wav",
             0.2 * np.random.default_rng(1).standard_normal(18000).astype(np.float32), 22050)
    console = tiny_console(decisions=Decisions.generalising())
    console.save(tmp_path / "c.pt")
    assert main(["mix", str(tmp_path / "stems"), "-o", str(tmp_path / "m.wav"),
                 "--checkpoint", str(tmp_path / "c.pt"), "--sample-rate", "16000", "-q"]) == 0
    paths = sorted((tmp_path / "stems").iterdir())
    with torch.no_grad():
        tracks = [resample(read_audio(p)[0].mean(dim=0), read_audio(p)[1], 16000) for p in paths]
        frames = streaming.mix_frames(paths, 16000)
        stems = torch.stack([torch.nn.functional.pad(t, (0, frames - t.shape[-1]))[:frames]
                             for t in tracks])
        settings = decide_settings(console.eval(), paths, 16000, mono=True).settings
        # The batched console pads the short stem, so its trim is measured on padding too;
        # the settings are compared with whole tracks heard one by one, as before this change.
        one_by_one = []
        for track in tracks:
            embedding, trim = console.listen(track[None], 16000)
            one_by_one.append((embedding, trim))
        _, expected = console.decide(torch.cat([e for e, _ in one_by_one]),
                                     torch.cat([t for _, t in one_by_one]),
                                     torch.zeros(len(paths), dtype=torch.long), 1)
        torch.testing.assert_close(settings, expected, atol=1e-4, rtol=1e-4)
        mix = console.chain.mix(stems, settings, torch.zeros(len(paths), dtype=torch.long), 1,
                                16000)[0]
    mastered, _ = master(mix, 16000, MasterSettings())
    written, rate = sf.read(tmp_path / "m.wav", dtype="float32")
    assert rate == 16000 and written.shape == (frames, 2)
    np.testing.assert_allclose(written.T, mastered.numpy(), atol=1e-5, rtol=1e-4)
    params = json.loads((tmp_path / "m.params.json").read_text())
    assert [t["name"] for t in params["tracks"]] == [p.name for p in paths]
