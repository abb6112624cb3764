"""The opl3 source: a General MIDI SoundFont of the OPL3 FM chip, synthesised, not recorded."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from console.cli.main import main
from console.data.band import make_multitrack
from console.data.fluid import fluidsynth_available
from console.data.sources import get_source, installed_sources, session_renderer

SR = 16000
SOURCE = get_source("opl3")
needs_opl3 = pytest.mark.skipif(
    not fluidsynth_available() or SOURCE.path() is None,
    reason="needs FluidSynth and Debian's opl3-soundfont",
)


def test_opl3_is_its_own_family_and_says_it_is_synthesised():
    assert SOURCE.family == "opl3" and SOURCE.player == "fluidsynth" and SOURCE.plays_melodic
    assert [p.name for p in SOURCE.files] == ["OPL-3_FM_128M.sf2"]
    assert "synthesised, not recorded" in SOURCE.description


@needs_opl3
def test_its_one_drum_kit_plays_every_part_of_a_kit_and_a_band():
    assert "opl3" in installed_sources()
    frames = 3 * SR
    roles = set()
    for seed, kind in ((2, "drums"), (7, "band")):
        rng = np.random.default_rng(seed)
        multitrack = make_multitrack(rng, 3.0, kind)
        render, info = session_renderer(SOURCE, frames, SR, rng)
        # bank 128 holds preset 0 only: every session plays that kit
        assert info == {"soundfont": "OPL-3_FM_128M.sf2", "drum_kit": 0}
        for part in multitrack.parts:
            audio = render(part)
            assert audio.shape == (frames,) and np.all(np.isfinite(audio))
            assert np.abs(audio).max() > 1e-3, (kind, part.name)
            roles.add(part.role)
    assert {"kick", "snare", "hihat", "bass", "keys"} <= roles


@needs_opl3
def test_make_sessions_writes_opl3_songs(tmp_path):
    out = tmp_path / "opl3"
    assert main(["make-sessions", str(out), "--n", "1", "--seed", "3", "--duration", "2",
                 "--sample-rate", str(SR), "--source", "opl3", "--kind", "drums"]) == 0
    info = json.loads((out / "song_0000" / "session.json").read_text())
    assert info["source"] == "opl3" and info["family"] == "opl3" and info["kind"] == "drums"
    for track in info["tracks"]:
        audio, rate = sf.read(out / "song_0000" / "stems" / track["name"], dtype="float32")
        assert rate == SR and np.abs(audio).max() > 1e-4, track["name"]
