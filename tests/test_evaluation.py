"""Evaluation metrics on hand-made cases, and `console evaluate` end to end."""

from __future__ import annotations

import csv
import json
import math

import pytest
import soundfile as sf
import torch

from console.cli.main import main
from console.data.loudness import loudness_lufs
from console.data.synthetic import write_session
from console.evaluation import compare_mixes, load_system
from console.evaluation.excerpts import ANCHOR_CUTOFF_HZ, anchor_mix, loudest_window
from console.evaluation.spectral_balance import band_balance_db, spectral_balance_error_db
from console.evaluation.stereo_width import stereo_width

SR = 16000
HEADLINE = ("stft", "loudness_db", "balance_db", "width")


def stereo_noise(seconds: float = 2.0, seed: int = 0, correlation: float = 0.6) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    a, b = torch.randn(2, int(seconds * SR), generator=g) * 0.1
    return torch.stack([a, correlation * a + (1 - correlation) * b])


def test_identical_mixes_score_zero_on_every_metric():
    mix = stereo_noise()
    scores = compare_mixes(mix, mix.clone(), SR)
    assert all(value == pytest.approx(0.0, abs=1e-9) for value in scores.values()), scores


def test_swapping_left_and_right_scores_zero_on_the_stereo_metrics():
    mix = stereo_noise()
    scores = compare_mixes(mix.flip(0), mix, SR)
    assert scores["stft"] == pytest.approx(0.0, abs=1e-6)
    assert scores["width"] == pytest.approx(0.0, abs=1e-12)
    assert scores["loudness_db"] == pytest.approx(0.0, abs=1e-6)


def test_a_6_db_level_error_is_a_6_db_loudness_error_and_nothing_else():
    mix = stereo_noise()
    for gain_db in (6.0, -6.0):
        scores = compare_mixes(mix * 10 ** (gain_db / 20), mix, SR)
        assert scores["loudness_db"] == pytest.approx(6.0, abs=0.01)
        assert scores["stft"] == pytest.approx(0.0, abs=1e-4)  # compared at equal loudness
        assert scores["balance_db"] == pytest.approx(0.0, abs=1e-6)
        assert scores["width"] == pytest.approx(0.0, abs=1e-9)


def test_a_different_balance_shows_in_the_band_that_changed():
    mix = stereo_noise(seed=1)
    t = torch.arange(mix.shape[-1]) / SR
    boosted = mix + 0.3 * torch.sin(2 * math.pi * 80.0 * t)  # a loud bass note
    errors = spectral_balance_error_db(boosted, mix, SR)
    assert max(errors, key=errors.get) == "20-150Hz" and errors["20-150Hz"] > 6.0
    assert list(errors) == ["20-150Hz", "150-500Hz", "500-2000Hz", "2000-6000Hz", "6000-8000Hz"]
    shares = 10 ** (band_balance_db(boosted, SR) / 10)
    assert float(shares.sum()) == pytest.approx(1.0, abs=1e-6)


def test_stereo_width_of_known_images():
    left = stereo_noise()[0]
    unrelated = stereo_noise(seed=7)[0]
    assert stereo_width(torch.stack([left, left])) == pytest.approx(0.0)
    assert stereo_width(torch.stack([left, -left])) == pytest.approx(1.0)
    assert stereo_width(torch.stack([left, unrelated])) == pytest.approx(0.5, abs=0.02)
    assert stereo_width(torch.zeros(2, 100)) == 0.0


def test_a_mono_mix_against_a_wide_reference_has_a_width_error():
    reference = stereo_noise(correlation=0.0)
    mono = reference.mean(dim=0, keepdim=True).expand(2, -1)
    assert compare_mixes(mono, reference, SR)["width"] > 0.4


def test_silence_has_no_loudness_so_its_error_is_nan():
    assert math.isnan(compare_mixes(torch.zeros(2, 2 * SR), stereo_noise(), SR)["loudness_db"])


def test_the_anchor_is_the_mono_sum_without_highs():
    t = torch.arange(SR) / SR
    stems = torch.stack([torch.sin(2 * math.pi * 440 * t), torch.sin(2 * math.pi * 6000 * t)])
    anchor = anchor_mix(stems, SR)
    spectrum = torch.fft.rfft(anchor[0]).abs()
    freqs = torch.fft.rfftfreq(SR, 1 / SR)
    assert torch.equal(anchor[0], anchor[1])
    assert spectrum[freqs > ANCHOR_CUTOFF_HZ].max() < 1e-3 * spectrum.max()
    assert spectrum[(freqs - 440).abs() < 1].max() > 0.5 * spectrum.max()


def test_the_loudest_window_is_found():
    mix = torch.zeros(2, 10 * SR)
    mix[:, 6 * SR : 8 * SR] = 0.5
    start, end = loudest_window(mix, SR, 2.0)
    assert (start, end) == (6 * SR, 8 * SR)
    assert loudest_window(mix, SR, 20.0) == (0, 10 * SR)


def test_unknown_systems_get_a_hint():
    with pytest.raises(Exception, match="Did you mean 'mono'"):
        load_system("mnoo")


@pytest.fixture(scope="module")
def sessions(tmp_path_factory):
    root = tmp_path_factory.mktemp("sessions")
    for i in range(3):
        write_session(root / f"song_{i}", seed=i, duration=2.0, sample_rate=SR,
                      source="synth", spec="gain+pan")
    return root


@pytest.mark.slow
def test_evaluate_scores_baselines_a_console_and_a_trained_wave_u_net(
    sessions, tmp_path, tiny_console, capsys
):
    console_path = tmp_path / "gp.pt"
    tiny_console("gain+pan").save(console_path)
    run = tmp_path / "wun"
    assert main(["train", "--mixer", "wave-u-net", "--mixer-options",
                 '{"levels": 3, "channels": 4}', "--data", str(sessions), "--out", str(run),
                 "--sample-rate", str(SR), "--segment-seconds", "1", "--batch-size", "2",
                 "--steps", "2", "--warmup-steps", "0", "--split", "1,0,0",
                 "--no-progress"]) == 0
    out = tmp_path / "eval"
    systems = f"mono,random,loudness,mine={console_path},{run / 'mixer.pt'}"
    assert main(["evaluate", str(sessions), "--systems", systems, "--out", str(out),
                 "--subset", "all", "--sample-rate", str(SR), "--excerpt-seconds", "1",
                 "--no-progress"]) == 0
    printed = capsys.readouterr().out
    labels = ["mono", "random", "loudness", "mine", "wun-mixer"]
    assert all(label in printed for label in labels) and "MR-STFT" in printed

    with open(out / "summary.csv", newline="") as f:
        summary = list(csv.DictReader(f))
    assert [row["system"] for row in summary] == labels
    assert all(row["songs"] == "3" for row in summary)
    with open(out / "per_song.csv", newline="") as f:
        per_song = list(csv.DictReader(f))
    assert len(per_song) == 3 * len(labels)
    for label in labels:  # the summary is the mean of the songs
        values = [float(r["stft"]) for r in per_song if r["system"] == label]
        mean = float(next(r["stft"] for r in summary if r["system"] == label))
        assert mean == pytest.approx(sum(values) / 3, rel=1e-4)
    results = json.loads((out / "results.json").read_text())
    assert results["settings"]["audio"] == "whole songs"
    assert {m["key"] for m in results["metrics"]} == set(HEADLINE)
    assert (out / "metrics.png").stat().st_size > 0

    manifest = json.loads((out / "excerpts" / "manifest.json").read_text())
    assert manifest["systems"] == labels and len(manifest["songs"]) == 3
    for song in manifest["songs"]:
        assert set(song["files"]) == {*labels, "reference", "anchor"}
        levels = []
        for name in song["files"].values():
            audio, rate = sf.read(out / "excerpts" / song["folder"] / name, dtype="float32")
            assert rate == SR and audio.shape == (SR, 2) and abs(audio).max() <= 1.0
            levels.append(loudness_lufs(torch.from_numpy(audio.T.copy()), SR))
        assert max(levels) - min(levels) < 0.5  # loudness-matched for listening


def test_evaluate_refuses_a_label_the_listening_test_reserves(sessions, tmp_path, capsys):
    code = main(["evaluate", str(sessions), "--systems", "reference=mono", "--out",
                 str(tmp_path / "e"), "--subset", "all", "--sample-rate", str(SR),
                 "--no-progress"])
    assert code == 2 and "reference" in capsys.readouterr().err
    assert not (tmp_path / "e").exists()


def test_the_test_split_is_the_default_and_matches_training(sessions, tmp_path, capsys):
    out = tmp_path / "e"
    assert main(["evaluate", str(sessions), "--systems", "mono", "--out", str(out),
                 "--sample-rate", str(SR), "--excerpt-seconds", "0", "--no-plots",
                 "--no-progress"]) == 0
    from console.data import scan_folder, split_songs

    test_songs = {s.name for s in split_songs(scan_folder(sessions), seed=0).test}
    rows = json.loads((out / "results.json").read_text())["per_song"]
    assert {r["song"] for r in rows} == test_songs
    assert not (out / "excerpts").exists() and not (out / "metrics.png").exists()


def test_songs_whose_names_sanitise_alike_keep_their_own_excerpts(tmp_path, capsys):
    data = tmp_path / "data"
    for seed, name in enumerate(["a b", "a-b"]):
        write_session(data / name, seed=20 + seed, duration=1.0, sample_rate=SR,
                      source="synth", spec="gain+pan")
    out = tmp_path / "eval"
    assert main(["evaluate", str(data), "--systems", "mono", "--out", str(out), "--subset",
                 "all", "--sample-rate", str(SR), "--excerpt-seconds", "0.5", "--no-plots",
                 "--no-progress"]) == 0
    manifest = json.loads((out / "excerpts" / "manifest.json").read_text())
    folders = {song["song"]: song["folder"] for song in manifest["songs"]}
    assert set(folders) == {"a b", "a-b"} and len(set(folders.values())) == 2
    references = {
        song: sf.read(out / "excerpts" / folder / "reference.wav")[0]
        for song, folder in folders.items()
    }
    assert not (references["a b"] == references["a-b"]).all()  # neither overwrote the other
    assert main(["listening-test", str(out), "-o", str(tmp_path / "site")]) == 0


def test_excerpt_folders_are_unique_and_do_not_depend_on_the_other_songs():
    from console.evaluation.excerpts import excerpt_folders

    both = excerpt_folders(["a b", "a-b", "A-B", "..", "", "x/y"])
    assert len({f.casefold() for f in both}) == 6
    assert both[1] == "a-b"  # a name that is already safe is kept
    assert all(f not in ("", ".", "..") and "/" not in f for f in both)
    assert excerpt_folders(["a b"]) == both[:1] and excerpt_folders(["x/y"]) == both[5:]


def test_a_shipped_console_is_a_system_by_its_name(sessions, tmp_path, capsys):
    from console import Console, pretrained

    system = load_system(pretrained.DEFAULT)
    assert isinstance(system.model, Console) and system.label == pretrained.DEFAULT
    out = tmp_path / "e"
    assert main(["evaluate", str(sessions), "--systems", f"mono,{pretrained.DEFAULT}",
                 "--out", str(out), "--subset", "all", "--max-songs", "1", "--sample-rate",
                 str(SR), "--excerpt-seconds", "0", "--no-plots", "--no-progress"]) == 0
    summary = json.loads((out / "results.json").read_text())
    assert [r["system"] for r in summary["summary"]] == ["mono", system.file_label]
    with pytest.raises(Exception, match="shipped console"):
        load_system("gain+pna")
