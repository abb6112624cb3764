"""Shared fixtures: tiny consoles and stems folders written on the fly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from console import Console
from console.decisions import Decisions

#: A VGGish of the published shape but a few channels wide, fast on a CPU.
TINY_VGGISH = {"channels": (4, 8, 8, 8), "fc": (32, 32)}


@pytest.fixture
def tiny_console():
    def make(spec: str = "gain+pan", seed: int = 0, decisions=None) -> Console:
        # The paper's decisions unless told: many tests check its direct prediction.
        torch.manual_seed(seed)
        return Console.from_spec(
            spec, encoder="vggish", encoder_options=TINY_VGGISH, hidden=32,
            decisions=decisions if decisions is not None else Decisions(),
        )

    return make


@pytest.fixture
def checkpoint(tmp_path, tiny_console) -> str:
    """A tiny untrained console saved to disk, so CLI tests need not build full-size VGGish."""
    path = tmp_path / "tiny.pt"
    tiny_console().save(path)
    return str(path)


def error_line(capsys) -> str:
    """The one line a command printed to stderr (after anything on stdout)."""
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if "error:" in line]
    assert len(lines) == 1, err
    return lines[0]


def write_stems(
    folder: Path, n: int, seconds: float = 1.0, sample_rate: int = 16000, seed: int = 0
) -> list[Path]:
    """``n`` distinct noisy tones as 16-bit WAV files in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    paths = []
    for k in range(n):
        tone = 0.3 * np.sin(2 * np.pi * (110.0 * (k + 1)) * t)
        audio = tone + 0.05 * rng.standard_normal(t.shape)
        path = folder / f"stem{k:02d}.wav"
        sf.write(path, audio.astype(np.float32), sample_rate, subtype="PCM_16")
        paths.append(path)
    return paths


@pytest.fixture
def stems_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "stems"
    write_stems(folder, 3)
    return folder
