"""The exadrums source: eXaDrums's one recorded acoustic kit, played piece by piece."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from console.cli.main import main
from console.data.band import Part, make_multitrack
from console.data.samples import EXADRUMS, PITCHED_ROLES, SampledVoice, candidate_role
from console.data.sources import get_source, installed_sources, session_renderer

SR = 22050
FOLDER = EXADRUMS.folder()
needs_exadrums = pytest.mark.skipif(
    FOLDER is None, reason="needs Debian's exadrums (its kit in /usr/share/exadrums)"
)


def strongest_partial_hz(audio: np.ndarray, rate: int) -> float:
    """The frequency of the strongest spectral peak, interpolated between bins."""
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(audio.shape[0]), n=1 << 16))
    k = int(np.argmax(spectrum[1:-1])) + 1
    a, b, c = np.log(spectrum[k - 1 : k + 2] + 1e-20)
    return (k + 0.5 * (a - c) / (a - 2 * b + c)) * rate / (1 << 16)


def test_exadrums_is_its_own_family_of_drums_only():
    source = get_source("exadrums")
    assert source.family == "exadrums" and source.samples is EXADRUMS
    assert not source.plays_melodic and EXADRUMS.extension == ".wav"
    assert "hydrogen" not in source.description.lower()
    for key in EXADRUMS.candidates:
        assert candidate_role(key) in {"kick", "snare", "hihat", "tom", "overhead"}, key


@needs_exadrums
def test_every_file_of_the_table_is_readable_and_only_toms_are_pitched():
    assert "exadrums" in installed_sources()
    for key, entries in EXADRUMS.candidates.items():
        present = EXADRUMS.present(key, FOLDER)
        assert [p for p, _ in present] == [FOLDER / f"{s}.wav" for s, _ in entries], key
        pitched = candidate_role(key) in PITCHED_ROLES
        assert all((pitch is not None) == pitched for _, pitch in entries), key


@needs_exadrums
def test_a_kit_plays_its_pieces_and_no_band_part():
    source = get_source("exadrums")
    roles = set()
    for seed in range(20):
        for part in make_multitrack(np.random.default_rng(seed), 4.0, "drums").parts:
            assert source.can_play(part), part.name  # percussion: the hi-hat stands in
            roles.add(part.role)
        band = make_multitrack(np.random.default_rng(seed), 4.0, "band").parts
        assert not any(source.can_play(p) for p in band if not p.drums)
    assert {"kick", "snare", "hihat", "tom", "overhead", "percussion"} <= roles


@needs_exadrums
def test_each_kit_piece_plays_its_own_recording(monkeypatch):
    import console.data.sources as sources

    chosen, draw = {}, sources.sampled_voice

    def recording(key, rng, folder, samples):
        chosen[key] = draw(key, rng, folder, samples)
        return chosen[key]

    monkeypatch.setattr(sources, "sampled_voice", recording)
    notes = make_multitrack(np.random.default_rng(0), 4.0, "drums").parts[0].notes[:4]
    parts = [Part(f"{name}.wav", role, notes, True) for name, role in (
        ("kick", "kick"), ("snare", "snare"), ("hihat", "hihat"), ("tom_hi", "tom"),
        ("tom_floor", "tom"), ("crash", "overhead"), ("ride", "overhead"),
        ("shaker", "percussion"))]
    render, info = session_renderer(get_source("exadrums"), 2 * SR, SR,
                                    np.random.default_rng(1))
    assert info == {"samples": str(FOLDER)}
    for part in parts:
        audio = render(part)
        assert audio.shape == (2 * SR,) and np.abs(audio).max() > 0.05, part.name
    files = {key: voice.path.stem for key, voice in chosen.items()}
    assert files["kick"] == "BD_Acou_01" and files["snare"] == "Snr_Acou_01"
    assert files["hihat"] == "HiHat"  # and it plays the shaker: no percussion is recorded
    assert set(files) == {"kick", "snare", "hihat", "tom:tom_hi", "tom:tom_floor",
                          "overhead:crash", "overhead:ride"}
    assert files["tom:tom_hi"] == "Tom01" and files["tom:tom_floor"] == "Tom03"
    assert files["overhead:crash"] == "Crash_High"
    assert files["overhead:ride"] in ("RideEdge", "RideBell")


@needs_exadrums
def test_the_toms_roots_are_their_measured_pitches():
    for stem, root in EXADRUMS.candidates["tom"]:
        voice = SampledVoice(FOLDER / f"{stem}.wav", root)
        at_root = voice(root, 0.8, 1.0, SR, None)
        # the strongest partial a tenth of a second in, as the table's root was measured
        f_root = strongest_partial_hz(at_root[int(0.1 * SR) : int(0.6 * SR)], SR)
        assert abs(12 * np.log2(f_root / (440.0 * 2 ** ((root - 69) / 12)))) < 0.5, stem
        fifth_up = voice(root + 7, 0.8, 1.0, SR, None)
        f_up = strongest_partial_hz(fifth_up[int(0.1 * SR) : int(0.6 * SR)], SR)
        assert 12 * np.log2(f_up / f_root) == pytest.approx(7.0, abs=0.5), stem


@needs_exadrums
def test_make_sessions_writes_exadrums_kits(tmp_path):
    out = tmp_path / "exadrums"
    assert main(["make-sessions", str(out), "--n", "2", "--seed", "5", "--duration", "3",
                 "--sample-rate", str(SR), "--source", "exadrums"]) == 0
    for song in ("song_0000", "song_0001"):
        info = json.loads((out / song / "session.json").read_text())
        assert info["source"] == "exadrums" and info["family"] == "exadrums"
        assert info["kind"] == "drums" and info["instruments"] == {"samples": str(FOLDER)}
        for track in info["tracks"]:
            audio, rate = sf.read(out / song / "stems" / track["name"], dtype="float32")
            assert rate == SR and np.abs(audio).max() > 1e-4, (song, track["name"])
