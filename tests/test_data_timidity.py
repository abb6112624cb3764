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
