"""The log-mel front end VGGish was trained on: 16 kHz, 64 bands, 0.96 s examples.

It follows the recipe of the original VGGish feature code (``mel_features.py``
in tensorflow/models, research/audioset): 25 ms periodic Hann windows every
10 ms, each zero-padded at its end to a 512-point FFT; the magnitude through
64 triangular bands that are linear in HTK mel between 125 Hz and 7.5 kHz;
``log(mel + 0.01)``. A network trained on those features (the published
weights) sees the same numbers here.
"""

from __future__ import annotations

import torch
import torchaudio
from torch import nn

VGGISH_SAMPLE_RATE = 16000
VGGISH_BANDS = 64
VGGISH_FRAMES = 96  # 0.96 s at a 10 ms hop
WINDOW = 400  # 25 ms
HOP = 160  # 10 ms
N_FFT = 512
MEL_MIN_HZ = 125.0
MEL_MAX_HZ = 7500.0
LOG_OFFSET = 0.01


def hz_to_mel(hz: torch.Tensor) -> torch.Tensor:
    """HTK mel: ``1127 ln(1 + f / 700)``."""
    return 1127.0 * torch.log1p(hz / 700.0)


def vggish_mel_matrix(
    bands: int = VGGISH_BANDS, sample_rate: int = VGGISH_SAMPLE_RATE, n_fft: int = N_FFT
) -> torch.Tensor:
    """``(n_fft // 2 + 1, bands)`` triangles linear in mel (not in Hz, as torchaudio's are)."""
    bins_hz = torch.linspace(0.0, sample_rate / 2.0, n_fft // 2 + 1, dtype=torch.float64)
    bins_mel = hz_to_mel(bins_hz)
    edges = torch.linspace(
        float(hz_to_mel(torch.tensor(MEL_MIN_HZ, dtype=torch.float64))),
        float(hz_to_mel(torch.tensor(MEL_MAX_HZ, dtype=torch.float64))),
        bands + 2,
        dtype=torch.float64,
    )
    lower, centre, upper = edges[:-2], edges[1:-1], edges[2:]
    rising = (bins_mel[:, None] - lower) / (centre - lower)
    falling = (upper - bins_mel[:, None]) / (upper - centre)
    matrix = torch.minimum(rising, falling).clamp(min=0.0)
    matrix[0] = 0.0  # the DC bin belongs to no band
    return matrix.to(torch.float32)


class LogMelExamples(nn.Module):
    """Turns mono audio ``(N, T)`` into log-mel examples ``(N, E, 96, 64)``.

    Frame ``i`` covers samples ``[160 i, 160 i + 400)`` of the 16 kHz audio,
    cut into non-overlapping 0.96 s examples; audio shorter than one example
    is padded with silence, a partial last example is dropped (as VGGish does).
    """

    def __init__(self) -> None:
        super().__init__()
        self.spectrogram = torchaudio.transforms.Spectrogram(
            n_fft=N_FFT, win_length=WINDOW, hop_length=HOP, power=1.0, center=False
        )
        # Fixed functions of the settings above; kept out of the state dict so that
        # VGGish weights from elsewhere load.
        for module in self.spectrogram.modules():
            for name, buffer in list(module.named_buffers(recurse=False)):
                module.register_buffer(name, buffer, persistent=False)
        self.register_buffer("mel_matrix", vggish_mel_matrix(), persistent=False)

    def forward(self, audio: torch.Tensor, sample_rate: int) -> torch.Tensor:
        logmel = self.frames(audio, sample_rate)
        examples = logmel.shape[1] // VGGISH_FRAMES
        logmel = logmel[:, : examples * VGGISH_FRAMES]
        return logmel.reshape(audio.shape[0], examples, VGGISH_FRAMES, VGGISH_BANDS)

    def frames(self, audio: torch.Tensor, sample_rate: int) -> torch.Tensor:
        """Every log-mel frame ``(N, frames, 64)`` of at least one example's worth of audio."""
        if sample_rate != VGGISH_SAMPLE_RATE:
            audio = torchaudio.functional.resample(audio, int(sample_rate), VGGISH_SAMPLE_RATE)
        min_samples = WINDOW + HOP * (VGGISH_FRAMES - 1)
        if audio.shape[-1] < min_samples:
            audio = nn.functional.pad(audio, (0, min_samples - audio.shape[-1]))
        # torchaudio centres the 400-sample window in each 512-sample frame, the recipe
        # starts it there: shifting the audio by the difference lines the frames up, and
        # as many zeros at the end keep the recipe's last frame.
        offset = (N_FFT - WINDOW) // 2
        magnitude = self.spectrogram(nn.functional.pad(audio, (offset, offset)))
        mel = magnitude.transpose(1, 2) @ self.mel_matrix.to(magnitude.dtype)
        return torch.log(mel + LOG_OFFSET)  # (N, frames, bands)
