import pytest
import soundfile as sf
import torch

from console.audio import load_stems
from console.errors import AudioInputError
from console.streaming import stream_mix
from tests.conftest import write_stems


def test_streaming_matches_the_batched_console(tiny_console, tmp_path):
    paths = write_stems(tmp_path, 4, seconds=2.3)
    console = tiny_console().eval()
    stems = load_stems(tmp_path)
    with torch.no_grad():
        batched = console(stems.audio[None], sample_rate=stems.sample_rate)
    mix, params = stream_mix(console, paths, stems.sample_rate)
    torch.testing.assert_close(params, batched.params[0], rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(mix, batched.mix[0], rtol=1e-4, atol=1e-5)


def test_streaming_pads_to_the_longest_and_reports_progress(tiny_console, tmp_path):
    write_stems(tmp_path, 2, seconds=1.0)
    short = tmp_path / "short.wav"
    sf.write(short, 0.1 * torch.randn(4000).numpy(), 8000)
    notes = []
    paths = sorted(tmp_path.glob("*.wav"))
    mix, params = stream_mix(tiny_console(), paths, 16000, progress=notes.append)
    assert mix.shape == (2, 16000) and params.shape == (3, 2)
    assert len(notes) == 6 and sum("short.wav" in n for n in notes) == 2
    with pytest.raises(AudioInputError, match="different lengths"):
        stream_mix(tiny_console(), paths, 16000, pad=False)
