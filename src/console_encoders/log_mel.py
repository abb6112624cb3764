"""The log-mel front end VGGish was trained on: 16 kHz, 64 bands, 0.96 s examples."""

from __future__ import annotations

import torch
import torchaudio
from torch import nn

VGGISH_SAMPLE_RATE = 16000
VGGISH_BANDS = 64
VGGISH_FRAMES = 96  # 0.96 s at a 10 ms hop


class LogMelExamples(nn.Module):
    """Turns mono audio ``(N, T)`` into log-mel examples ``(N, E, 96, 64)``.

    25 ms Hann windows every 10 ms, 64 HTK mel bands from 125 Hz to 7.5 kHz,
    ``log(mel + 0.01)``, cut into non-overlapping 0.96 s examples; audio
    shorter than one example is padded with silence, a partial last example is
    dropped (as VGGish does).
    """

    def __init__(self) -> None:
        super().__init__()
        self.mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=VGGISH_SAMPLE_RATE,
            n_fft=512,
            win_length=400,
            hop_length=160,
            f_min=125.0,
            f_max=7500.0,
            n_mels=VGGISH_BANDS,
            power=1.0,
            center=False,
            mel_scale="htk",
        )
        # The filterbank and window are fixed functions of the settings above;
        # keeping them out of the state dict lets VGGish weights from elsewhere load.
        for module in self.mel.modules():
            for name, buffer in list(module.named_buffers(recurse=False)):
                module.register_buffer(name, buffer, persistent=False)

    def forward(self, audio: torch.Tensor, sample_rate: int) -> torch.Tensor:
        if sample_rate != VGGISH_SAMPLE_RATE:
            audio = torchaudio.functional.resample(audio, int(sample_rate), VGGISH_SAMPLE_RATE)
        min_samples = self.mel.n_fft + self.mel.hop_length * (VGGISH_FRAMES - 1)
        if audio.shape[-1] < min_samples:
            audio = nn.functional.pad(audio, (0, min_samples - audio.shape[-1]))
        logmel = torch.log(self.mel(audio) + 0.01).transpose(1, 2)  # (N, frames, bands)
        examples = logmel.shape[1] // VGGISH_FRAMES
        logmel = logmel[:, : examples * VGGISH_FRAMES]
        return logmel.reshape(audio.shape[0], examples, VGGISH_FRAMES, VGGISH_BANDS)
