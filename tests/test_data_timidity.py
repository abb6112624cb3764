"""The TiMidity++ player of the freepats source: MIDI files, patch maps, rendering."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from console.data.arrangement import Note
from console.data.sources import get_source
from console.data.timidity import PatchSetPlayer, _nearest, _patch_numbers, midi_file


def _events(smf: bytes) -> list[tuple[int, bytes]]:
    """(absolute tick, message) of a one-track SMF, read back independently of the writer."""
    assert smf[:4] == b"MThd"
    _, fmt, ntracks, division = struct.unpack(">IHHH", smf[4:14])
    assert (fmt, ntracks, division) == (0, 1, 10_000)
    assert smf[14:18] == b"MTrk"
    length = struct.unpack(">I", smf[18:22])[0]
    data, i, tick, out = smf[22:22 + length], 0, 0, []
    while i < len(data):
        delta = 0
        while True:
            byte = data[i]
            i += 1
            delta = (delta << 7) | (byte & 0x7F)
            if byte < 0x80:
                break
        tick += delta
        if data[i] == 0xFF:
            size = data[i + 2]
            out.append((tick, data[i:i + 3 + size]))
            i += 3 + size
        else:
            size = 2 if data[i] >> 4 == 0xC else 3
            out.append((tick, data[i:i + size]))
            i += size
    return out


def test_a_midi_file_plays_each_note_at_its_time_on_its_channel():
    notes = [Note(0.5, 0.25, 60, 1.0), Note(0.0, 2.0, 64.2, 0.5)]
    events = _events(midi_file(notes, program=33, drums=False))
    channel_messages = [(t, m) for t, m in events if m[0] != 0xFF]
    assert channel_messages[0] == (0, bytes([0xC0, 33]))
    ons = [(t, m[1], m[2]) for t, m in channel_messages if m[0] == 0x90]
    offs = [(t, m[1]) for t, m in channel_messages if m[0] == 0x80]
    assert ons == [(0, 64, 64), (5000, 60, 127)]
    assert offs == [(7500, 60), (20000, 64)]
    assert events[-1][1] == b"\xff\x2f\x00"
    drums = [m for _, m in _events(midi_file(notes, program=0, drums=True)) if m[0] != 0xFF]
    assert {m[0] for m in drums} == {0x99, 0x89}  # channel 10, no program change


def test_patch_numbers_are_read_from_bank_0_and_drumset_0_only(tmp_path: Path):
    config = tmp_path / "set.cfg"
    config.write_text(
        "dir /x\n# comment\ndrumset 0\n 35 Drum/kick.pat amp=100\n 38 Drum/snare.pat\n"
        "drumset 8\n 36 Other/kick.pat\nbank 0\n 0 Tone/piano.pat\n 33 Tone/bass.pat # x\n"
        "bank 1\n 5 Tone/other.pat\n",
        encoding="utf-8",
    )
    assert _patch_numbers(config) == ({0, 33}, {35, 38})


def test_a_missing_program_is_played_by_its_family_first():
    available = {0, 25, 33, 40}
    assert _nearest(33, available, family=8) == 33
    assert _nearest(39, available, family=8) == 33  # synth bass 2 -> the bass family
    assert _nearest(31, available, family=8) == 25  # guitar harmonics -> a guitar
    assert _nearest(100, available, family=8) == 40  # no family member: nearest of all
    assert _nearest(37, {36, 38}) == 36  # a tie goes to the lower number


@pytest.mark.skipif(not get_source("freepats").installed(),
                    reason="needs Debian's timidity and freepats")
def test_freepats_plays_a_kick_where_it_was_written_and_silence_elsewhere():
    player = PatchSetPlayer(get_source("freepats").path(), 22050)
    audio = player.play([Note(0.5, 0.1, 36, 0.9)], 22050, program=0, drums=True)
    assert audio.shape == (22050,)
    assert np.all(np.isfinite(audio))
    onset = int(np.argmax(np.abs(audio) > 1e-3))
    assert 0.49 * 22050 <= onset <= 0.52 * 22050
    assert np.abs(audio[: int(0.49 * 22050)]).max() < 1e-4
    assert 0.01 < np.abs(audio).max() < 1.0  # audible, with headroom


def _gus_patch(path: Path, root_hz: float) -> None:
    """A minimal GUS patch file whose first sample's root is ``root_hz``."""
    header = bytearray(b"GF1PATCH110\0ID#000002\0".ljust(129 + 63 + 47 + 96, b"\0"))
    start = 129 + 63 + 47
    header[start + 30:start + 34] = struct.pack("<I", int(round(root_hz * 1000)))
    path.write_bytes(bytes(header))


def test_drum_patches_are_played_at_the_key_they_were_recorded_at(tmp_path: Path):
    (tmp_path / "kit").mkdir()
    _gus_patch(tmp_path / "kit" / "kick.pat", 261.6256)  # tuned to C4, like FreePats' kicks
    _gus_patch(tmp_path / "kit" / "snare.pat", 73.4162)  # tuned to its own key, 38
    _gus_patch(tmp_path / "kit" / "bass.pat", 110.0)
    config = tmp_path / "set.cfg"
    config.write_text(f"dir {tmp_path}\nbank 0\n 33 kit/bass.pat\ndrumset 0\n"
                      " 35 kit/kick.pat amp=100\n 38 kit/snare\n 40 kit/snare.pat note=52\n"
                      " 41 kit/missing.pat\n")
    from console.data.timidity import drums_at_recorded_pitch, patch_root_key

    assert patch_root_key(tmp_path / "kit" / "kick.pat") == 60
    assert patch_root_key(tmp_path / "kit" / "bass.pat") == 45
    assert patch_root_key(tmp_path / "nothing.pat") is None
    lines = drums_at_recorded_pitch(config, tmp_path / "out.cfg").read_text().splitlines()
    assert " 35 kit/kick.pat amp=100 note=60" in lines
    assert " 38 kit/snare note=38" in lines
    assert " 40 kit/snare.pat note=52" in lines  # a note= already given is kept
    assert " 41 kit/missing.pat" in lines and " 33 kit/bass.pat" in lines  # melodic untouched


@pytest.mark.skipif(not get_source("freepats").installed(),
                    reason="needs Debian's timidity and freepats")
def test_freepats_kicks_and_toms_sound_where_drums_do_not_two_octaves_down():
    player = PatchSetPlayer(get_source("freepats").path(), 22050)
    for key, lowest, highest in ((35, 40, 120), (36, 40, 120), (41, 50, 200)):
        audio = player.play([Note(0.1, 0.3, key, 0.9)], 2 * 22050, program=0, drums=True)
        power = np.abs(np.fft.rfft(audio)) ** 2
        hz = np.fft.rfftfreq(audio.size, 1 / 22050)
        assert lowest <= hz[np.argmax(power)] <= highest, key
        assert power[hz < 30].sum() < 0.1 * power.sum(), key
