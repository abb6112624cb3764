"""The lmms source: LMMS's one-shots played like a sampler, through the shared sample sets."""

from __future__ import annotations

import json

import attrs
import numpy as np
import pytest
import soundfile as sf

from console.cli.main import main
from console.data.band import make_multitrack
from console.data.samples import (
    LMMS,
    PITCHED_ROLES,
    SONIC_PI,
    SampledVoice,
    SampleSet,
    sampled_voice,
)
from console.data.sources import get_source, installed_sources, session_renderer

SR = 22050
FOLDER = LMMS.folder()
needs_lmms = pytest.mark.skipif(
    FOLDER is None, reason="needs Debian's lmms-common (samples in /usr/share/lmms/samples)"
)


def strongest_partial_hz(audio: np.ndarray, rate: int) -> float:
    """The frequency of the strongest spectral peak, interpolated between bins."""
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(audio.shape[0]), n=1 << 16))
    k = int(np.argmax(spectrum[1:-1])) + 1
    a, b, c = np.log(spectrum[k - 1 : k + 2] + 1e-20)
    return (k + 0.5 * (a - c) / (a - 2 * b + c)) * rate / (1 << 16)


@needs_lmms
def test_lmms_is_an_installed_source_that_plays_every_role():
    assert "lmms" in installed_sources()
    source = get_source("lmms")
    assert source.installed() and source.family == "lmms"
    for seed in range(8):
        for kind in ("band", "drums"):
            for part in make_multitrack(np.random.default_rng(seed), 4.0, kind).parts:
                assert part.role in LMMS.candidates, part.role  # no stand-in needed
                assert source.can_play(part)


@needs_lmms
def test_every_file_of_the_table_is_readable_and_pitched_roles_have_roots():
    for role, entries in LMMS.candidates.items():
        present = LMMS.present(role, FOLDER)
        assert [p for p, _ in present] == [FOLDER / f"{s}.ogg" for s, _ in entries], role
        pitched = role in PITCHED_ROLES
        assert all((pitch is not None) == pitched for _, pitch in entries), role


@needs_lmms
def test_every_part_of_a_band_and_a_kit_is_audible():
    source = get_source("lmms")
    frames = 4 * SR
    roles = set()
    for seed, kind in ((1, "band"), (4, "band"), (2, "drums")):
        rng = np.random.default_rng(seed)
        multitrack = make_multitrack(rng, 4.0, kind)
        render, info = session_renderer(source, frames, SR, rng)
        assert info == {"samples": str(FOLDER)}
        for part in multitrack.parts:
            audio = render(part)
            assert audio.shape == (frames,) and np.all(np.isfinite(audio))
            assert np.abs(audio).max() > 0.05, (kind, part.name)
            roles.add(part.role)
    assert {"kick", "snare", "hihat", "bass", "keys"} <= roles


@needs_lmms
def test_make_sessions_writes_two_lmms_songs_with_audible_stems(tmp_path):
    out = tmp_path / "lmms"
    assert main(["make-sessions", str(out), "--n", "2", "--seed", "3", "--duration", "4",
                 "--sample-rate", str(SR), "--source", "lmms", "--kind", "band"]) == 0
    for song in ("song_0000", "song_0001"):
        info = json.loads((out / song / "session.json").read_text())
        assert info["source"] == "lmms" and info["family"] == "lmms"
        assert info["instruments"] == {"samples": str(FOLDER)}
        assert len(info["tracks"]) >= 2
        for track in info["tracks"]:
            audio, rate = sf.read(out / song / "stems" / track["name"], dtype="float32")
            assert rate == SR and np.abs(audio).max() > 1e-4, (song, track["name"])


@needs_lmms
def test_one_recording_plays_each_role_for_the_whole_session(monkeypatch):
    import console.data.sources as sources

    chosen: list[tuple[str, object]] = []

    def recording(role, rng, folder, samples):
        voice = sampled_voice(role, rng, folder, samples)
        chosen.append((role, voice))
        return voice

    monkeypatch.setattr(sources, "sampled_voice", recording)
    for seed in range(40):
        rng = np.random.default_rng(seed)
        parts = make_multitrack(rng, 4.0, "band").parts
        if sum(p.role in ("keys", "guitar") for p in parts) >= 3:
            break
    render, _ = session_renderer(get_source("lmms"), 4 * SR, SR, rng)
    for part in parts:
        render(part)
    roles = [role for role, _ in chosen]
    assert sorted(roles) == sorted({p.role for p in parts})  # one draw per role
    assert all(voice.path.is_file() for _, voice in chosen)


@needs_lmms
def test_notes_are_transposed_from_the_measured_root():
    for stem in ("instruments/bassslap02", "instruments/piano01", "stringsnpads/juno_pad01"):
        root = dict(sum(LMMS.candidates.values(), ()))[stem]
        voice = SampledVoice(FOLDER / f"{stem}.ogg", root)
        at_root = voice(root, 0.6, 1.0, SR, None)
        octave_up = voice(root + 12, 0.6, 1.0, SR, None)
        f_root = strongest_partial_hz(at_root[int(0.05 * SR) : int(0.55 * SR)], SR)
        f_up = strongest_partial_hz(octave_up[int(0.05 * SR) : int(0.55 * SR)], SR)
        assert f_up / f_root == pytest.approx(2.0, rel=0.02), stem
        # these recordings' strongest partial is their fundamental: the table's root
        expected = 440.0 * 2 ** ((root - 69) / 12)
        assert abs(12 * np.log2(f_root / expected)) < 0.5, stem


@needs_lmms
def test_files_soundfile_cannot_read_are_never_chosen():
    broken = [p for p in (FOLDER / "drums/kick04.ogg", FOLDER / "instruments/harpsichord01.ogg")
              if p.is_file()]
    if not broken:
        pytest.skip("this lmms-common has no unreadable .ogg files")
    with pytest.raises(sf.LibsndfileError):
        sf.read(broken[0])
    stem = str(broken[0].relative_to(FOLDER).with_suffix(""))
    mixed = attrs.evolve(LMMS, candidates={"kick": ((stem, None), ("drums/kick01", None))})
    assert [p for p, _ in mixed.present("kick", FOLDER)] == [FOLDER / "drums/kick01.ogg"]
    for seed in range(10):
        voice = sampled_voice("kick", np.random.default_rng(seed), FOLDER, mixed)
        assert voice.path == FOLDER / "drums/kick01.ogg"


def test_a_sample_set_skips_unreadable_files_and_is_absent_without_readable_ones(tmp_path):
    (tmp_path / "drums").mkdir()
    (tmp_path / "drums" / "bad.ogg").write_bytes(b"RIFF\x10\x00\x00\x00WAVEfmt \x02\x00\x00\x00")
    t = np.arange(SR // 4) / SR
    samples = SampleSet("test", lambda: (tmp_path,), None, ".ogg",
                        {"kick": (("drums/bad", None),), "bass": (("drums/good", 36.0),)})
    assert samples.folder() is None  # only an unreadable file: not installed
    sf.write(tmp_path / "drums" / "good.ogg", 0.5 * np.sin(2 * np.pi * 65.4 * t), SR)
    assert samples.folder() == tmp_path
    assert samples.present("kick", tmp_path) == []
    assert sampled_voice("kick", np.random.default_rng(0), sample_set=samples) is None
    voice = sampled_voice("bass", np.random.default_rng(0), sample_set=samples)
    assert voice == SampledVoice(tmp_path / "drums" / "good.ogg", 36.0)


def test_sonic_pi_and_lmms_are_two_sample_sets_of_one_mechanism():
    assert get_source("sonic-pi").samples is SONIC_PI
    assert get_source("lmms").samples is LMMS
    assert SONIC_PI.extension == ".flac" and LMMS.extension == ".ogg"
    assert "tom" in LMMS.candidates and "vocals" in LMMS.candidates
