"""musicnn (Pons and Serra, 2019) in torch: a tagger trained on real music as a track encoder.

The network and its front end follow the reference implementation (the
``musicnn`` package, ISC licence, Music Technology Group, Universitat Pompeu
Fabra) layer for layer, so its published weights compute here what they
compute there (``scripts/check_musicnn_parity.py`` measures it):

* front end: 16 kHz audio, a 512-point STFT with a periodic Hann window every
  256 samples, centred frames zero-padded at the ends (librosa >= 0.9's
  ``melspectrogram``), power through 96 Slaney-normalised mel bands (librosa's
  filters), rounded to float16 as the reference does, then ``log10(10000 x + 1)``;
* patches of 187 frames (3 s);
* musically motivated convolutions: timbral filters 7 frames high and 38 or 67
  mel bands wide, temporal filters 128, 64 and 32 frames long and one band wide,
  each followed by batch norm and a max over frequency (561 channels in all);
* mid end: three 1-D convolutions over time (64 channels, 7 frames), the last
  two with residual connections, their outputs concatenated with the front
  end's (753 channels);
* back end: max and mean over time, batch norm, a dense layer of 200 units
  (the *penultimate* features, after batch norm) and 50 tag logits.

The shipped weights (``console_encoders/weights/musicnn_msd.pt`` and
``musicnn_mtt.pt``) were converted from the package's TensorFlow checkpoints by
``scripts/convert_musicnn.py``; their card and licence sit beside them. No
TensorFlow is needed at run time.

As a track encoder it resamples to 16 kHz, pads a track shorter than one patch
with silence, and pools the chosen layer over a longer track's patches (the
reference's non-overlapping patches, plus one patch ending at the last frame
where more than a quarter of a second would otherwise go unheard).
"""

from __future__ import annotations

import math
from importlib import resources
from pathlib import Path
from typing import Any

import torch
import torchaudio
from torch import nn
from torch.nn import functional as F

from console.checkpoint_file import check_finite, read_checkpoint
from console.encoder import Encoder
from console.errors import CheckpointError, ConsoleError

MUSICNN_SAMPLE_RATE = 16000
N_FFT = 512
HOP = 256
N_MELS = 96
#: Frames in one 3 s input patch (``librosa.time_to_frames(3, 16000, 256, 512) + 1``).
PATCH_FRAMES = 187
#: A tail longer than this many frames past the last whole patch gets a patch of its own.
TAIL_FRAMES = 16
#: Shortest audio that gives one patch of frames (centred frames: ``1 + T // HOP``).
MIN_SAMPLES = (PATCH_FRAMES - 1) * HOP
#: The largest float16; mel power above it (far louder than full scale) is clamped there.
FLOAT16_MAX = 65504.0
#: TensorFlow's default batch-norm epsilon (``tf.compat.v1.layers.batch_normalization``).
BN_EPS = 1e-3

#: The layers an embedding can come from, with their widths (musicnn's feature names).
LAYERS = {"penultimate": 200, "tags": 50, "mean_pool": 753, "max_pool": 753}
#: Shipped weights, by the name given as ``weights=``.
SHIPPED = {"msd": "musicnn_msd.pt", "mtt": "musicnn_mtt.pt"}
WEIGHTS_FORMAT = "console-musicnn-weights"


def slaney_mel_matrix(
    sample_rate: int = MUSICNN_SAMPLE_RATE, n_fft: int = N_FFT, n_mels: int = N_MELS
) -> torch.Tensor:
    """``(n_fft // 2 + 1, n_mels)`` triangles as ``librosa.filters.mel`` makes them.

    Slaney's mel scale (linear below 1 kHz, logarithmic above), 0 Hz to Nyquist,
    each triangle scaled to unit area (``norm="slaney"``); computed in float64
    and rounded to float32 at the same two points as librosa.
    """
    f64 = torch.float64
    f_sp = 200.0 / 3
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = math.log(6.4) / 27.0

    def to_mel(hz: float) -> float:
        return hz / f_sp if hz < min_log_hz else min_log_mel + math.log(hz / min_log_hz) / logstep

    mels = torch.linspace(to_mel(0.0), to_mel(sample_rate / 2.0), n_mels + 2, dtype=f64)
    hz = torch.where(
        mels >= min_log_mel, min_log_hz * torch.exp(logstep * (mels - min_log_mel)), f_sp * mels
    )
    bins = torch.linspace(0.0, sample_rate / 2.0, n_fft // 2 + 1, dtype=f64)
    spacing = hz.diff()
    ramps = hz[:, None] - bins[None, :]
    lower = -ramps[:-2] / spacing[:-1, None]
    upper = ramps[2:] / spacing[1:, None]
    weights = torch.minimum(lower, upper).clamp(min=0.0).to(torch.float32)
    area = 2.0 / (hz[2:] - hz[:-2])
    return (weights.to(f64) * area[:, None]).to(torch.float32).T.contiguous()


class MusicnnFrontend(nn.Module):
    """Mono 16 kHz audio ``(N, T)`` to musicnn's log-mel frames ``(N, frames, 96)``."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("window", torch.hann_window(N_FFT, periodic=True), persistent=False)
        self.register_buffer("mel_matrix", slaney_mel_matrix(), persistent=False)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        spectrum = torch.stft(
            audio, N_FFT, HOP, window=self.window.to(audio.dtype), center=True,
            pad_mode="constant", return_complex=True,
        )
        power = spectrum.real.square() + spectrum.imag.square()  # (N, bins, frames)
        mel = power.transpose(1, 2) @ self.mel_matrix.to(power.dtype)
        # The reference stores the mel power as float16 before the log.
        mel = mel.clamp(max=FLOAT16_MAX).half().to(audio.dtype)
        return torch.log10(10000.0 * mel + 1.0)


def patch_starts(frames: int) -> list[int]:
    """First frame of each 187-frame patch of ``frames`` frames (at least one patch)."""
    starts = list(range(0, max(frames - PATCH_FRAMES, 0) + 1, PATCH_FRAMES))
    if frames - (starts[-1] + PATCH_FRAMES) > TAIL_FRAMES:
        starts.append(frames - PATCH_FRAMES)
    return starts


def _bn(channels: int, dims: int = 1) -> nn.Module:
    norm = nn.BatchNorm2d if dims == 2 else nn.BatchNorm1d
    return norm(channels, eps=BN_EPS, momentum=0.01)


class MusicnnNetwork(nn.Module):
    """The musicnn CNN on log-mel patches ``(M, 187, 96)``; sizes of the published models."""

    def __init__(
        self, n_mels: int = N_MELS, midend: int = 64, backend: int = 200, classes: int = 50
    ) -> None:
        super().__init__()
        timbral, temporal = int(1.6 * 128), int(1.6 * 32)
        self.input_norm = _bn(1, 2)
        self.timbral = nn.ModuleList(
            [nn.Conv2d(1, timbral, (7, int(share * n_mels))) for share in (0.4, 0.7)]
        )
        self.timbral_norm = nn.ModuleList([_bn(timbral, 2) for _ in range(2)])
        self.temporal = nn.ModuleList([nn.Conv2d(1, temporal, (k, 1)) for k in (128, 64, 32)])
        self.temporal_norm = nn.ModuleList([_bn(temporal, 2) for _ in range(3)])
        front = 2 * timbral + 3 * temporal
        self.midend = nn.ModuleList(
            [nn.Conv1d(c, midend, 7) for c in (front, midend, midend)]
        )
        self.midend_norm = nn.ModuleList([_bn(midend) for _ in range(3)])
        pooled = 2 * (front + 3 * midend)
        self.pool_norm = _bn(pooled)
        self.dense = nn.Linear(pooled, backend)
        self.dense_norm = _bn(backend)
        self.output = nn.Linear(backend, classes)

    def features(self, patches: torch.Tensor) -> dict[str, torch.Tensor]:
        """Every named activation of the reference for patches ``(M, frames, 96)``.

        ``timbral`` ``(M, frames, 408)``, ``temporal`` ``(M, frames, 153)``,
        ``cnn1``..``cnn3`` ``(M, frames, 64)``, ``mean_pool`` and ``max_pool``
        ``(M, 753)``, ``penultimate`` ``(M, 200)``, ``logits`` and ``tags``
        (sigmoid) ``(M, 50)``.
        """
        x = self.input_norm(patches[:, None])  # (M, 1, frames, mels)
        front = []
        padded = F.pad(x, (0, 0, 3, 3))
        for conv, norm in zip(self.timbral, self.timbral_norm, strict=True):
            front.append(norm(F.relu(conv(padded))).amax(dim=3))
        for conv, norm in zip(self.temporal, self.temporal_norm, strict=True):
            k = conv.kernel_size[0]  # TensorFlow's "same": the odd sample of padding goes last
            same = F.pad(x, (0, 0, (k - 1) // 2, k // 2))
            front.append(norm(F.relu(conv(same))).amax(dim=3))
        front = torch.cat(front, dim=1)  # (M, 561, frames)

        mid = [front]
        h = front
        for i, (conv, norm) in enumerate(zip(self.midend, self.midend_norm, strict=True)):
            out = norm(F.relu(conv(F.pad(h, (3, 3)))))
            h = out if i == 0 else out + h
            mid.append(h)
        stacked = torch.cat(mid, dim=1)  # (M, 753, frames)

        max_pool = stacked.amax(dim=2)
        mean_pool = stacked.mean(dim=2)
        # The reference flattens (features, [max, mean]): the two pools interleave.
        pooled = torch.stack([max_pool, mean_pool], dim=2).flatten(1)
        penultimate = self.dense_norm(F.relu(self.dense(self.pool_norm(pooled))))
        logits = self.output(penultimate)
        channels_last = lambda t: t.transpose(1, 2)  # noqa: E731
        timbral_width = 2 * self.timbral[0].out_channels
        return {
            "timbral": channels_last(front[:, :timbral_width]),
            "temporal": channels_last(front[:, timbral_width:]),
            "cnn1": channels_last(mid[1]),
            "cnn2": channels_last(mid[2]),
            "cnn3": channels_last(mid[3]),
            "mean_pool": mean_pool,
            "max_pool": max_pool,
            "penultimate": penultimate,
            "logits": logits,
            "tags": torch.sigmoid(logits),
        }

    def forward(self, patches: torch.Tensor) -> dict[str, torch.Tensor]:
        """The same as :meth:`features`."""
        return self.features(patches)


def shipped_weights(name: str) -> Path:
    """The path of shipped weights ``"msd"`` or ``"mtt"``."""
    return Path(str(resources.files("console_encoders") / "weights" / SHIPPED[name]))


def read_weights(path: str | Path) -> dict[str, Any]:
    """A musicnn weights file written by ``scripts/convert_musicnn.py``, checked."""
    data = read_checkpoint(path, "musicnn weights")
    if not isinstance(data, dict) or data.get("format") != WEIGHTS_FORMAT:
        raise CheckpointError(
            f"{path} is not a musicnn weights file; make one with scripts/convert_musicnn.py."
        )
    check_finite(data["state_dict"], str(path))
    return data


class Musicnn(Encoder):
    """musicnn's pretrained tagger as a track encoder (frozen unless ``frozen=False``).

    ``weights``: ``"msd"`` (Million Song Dataset, the default), ``"mtt"``
    (MagnaTagATune), a path to a file written by ``scripts/convert_musicnn.py``,
    or ``None`` for an untrained network (train it with ``frozen=False``).
    ``layer``: which activation is the embedding: ``"penultimate"`` (200, the
    default), ``"tags"`` (50 tag probabilities), ``"mean_pool"`` or
    ``"max_pool"`` (753 each). ``pool``: how a track longer than 3 s combines
    its patches, ``"mean"`` or ``"max"``.

    Frozen, ``requires_grad_(True)`` leaves it frozen, so a console trains
    only its post-processor on top and does not store these weights again.
    With pretrained weights, frozen or not, batch norm keeps the pretrained
    statistics (the network stays in eval mode); only a network trained from
    scratch (``weights=None, frozen=False``) learns its own.
    """

    name = "musicnn"
    description = (
        "musicnn (Pons & Serra 2019) pretrained on real music (msd/mtt), frozen, "
        "16 kHz 96-band log-mel, 200-dim penultimate features."
    )

    #: Patches per network call when no gradient is needed, to bound memory on long songs.
    inference_chunk = 32

    def __init__(
        self,
        weights: str | None = "msd",
        layer: str = "penultimate",
        pool: str = "mean",
        frozen: bool = True,
    ) -> None:
        super().__init__()
        if layer not in LAYERS:
            raise ConsoleError(
                f"musicnn has no layer {layer!r}; choose one of {', '.join(LAYERS)}."
            )
        if pool not in ("mean", "max"):
            raise ConsoleError(f"musicnn pool must be 'mean' or 'max', not {pool!r}.")
        if weights is None and frozen:
            raise ConsoleError(
                "A frozen musicnn needs weights: give weights='msd' or 'mtt', or frozen=False "
                "to train it from scratch."
            )
        self.layer = layer
        self.pool = pool
        self.frozen = bool(frozen)
        self.embed_dim = LAYERS[layer]
        self.frontend = MusicnnFrontend()
        self.network = MusicnnNetwork()
        self.labels: list[str] = []
        # Pretrained batch-norm statistics stay (eval mode) even while the weights fine-tune.
        self.keep_statistics = self.frozen or weights is not None
        if weights is not None:
            self.load_weights(weights)
        if self.frozen:
            for parameter in self.network.parameters():
                parameter.requires_grad_(False)
            self.network.eval()

    def load_weights(self, weights: str | Path) -> None:
        """Load shipped weights by name (``"msd"``, ``"mtt"``) or a converted file by path."""
        key = str(weights).lower()
        if key in SHIPPED:
            path = shipped_weights(key)
        else:
            path = Path(weights)
            if not path.exists():
                raise ConsoleError(
                    f"musicnn weights {weights!r} are neither shipped ({', '.join(SHIPPED)}) "
                    f"nor a file; give 'msd', 'mtt' or the path of a converted file."
                )
        data = read_weights(path)
        try:
            self.network.load_state_dict(data["state_dict"], strict=True)
        except RuntimeError as exc:
            raise CheckpointError(f"{path} does not fit musicnn: {exc}") from exc
        self.labels = list(data.get("labels", []))

    def requires_grad_(self, requires_grad: bool = True) -> Musicnn:
        """As ``nn.Module.requires_grad_``, except that a frozen musicnn stays frozen."""
        if not self.frozen:
            return super().requires_grad_(requires_grad)
        return self  # frozen stays frozen: a training loop's blanket call does not thaw it

    def train(self, mode: bool = True) -> Musicnn:
        """As ``nn.Module.train``; pretrained batch-norm statistics stay in eval mode."""
        super().train(mode)
        if self.keep_statistics:
            self.network.eval()
        return self

    def patches(self, audio: torch.Tensor, sample_rate: int) -> torch.Tensor:
        """Log-mel patches ``(N, P, 187, 96)`` of mono audio ``(N, T)``."""
        if sample_rate != MUSICNN_SAMPLE_RATE:
            audio = torchaudio.functional.resample(audio, int(sample_rate), MUSICNN_SAMPLE_RATE)
        if audio.shape[-1] < MIN_SAMPLES:
            audio = F.pad(audio, (0, MIN_SAMPLES - audio.shape[-1]))
        logmel = self.frontend(audio)
        starts = patch_starts(logmel.shape[1])
        return torch.stack([logmel[:, s : s + PATCH_FRAMES] for s in starts], dim=1)

    def forward(self, audio: torch.Tensor, sample_rate: int) -> torch.Tensor:
        """Embeddings ``(N, embed_dim)`` of mono tracks ``(N, T)`` at ``sample_rate``."""
        needs_grad = torch.is_grad_enabled() and (not self.frozen or audio.requires_grad)
        with torch.set_grad_enabled(needs_grad):
            patches = self.patches(audio, sample_rate)
            n, p = patches.shape[:2]
            flat = patches.reshape(n * p, PATCH_FRAMES, N_MELS)
            chunks = [flat] if needs_grad else flat.split(self.inference_chunk)
            out = torch.cat([self.network(chunk)[self.layer] for chunk in chunks])
            out = out.reshape(n, p, -1)
            return out.mean(dim=1) if self.pool == "mean" else out.amax(dim=1)
