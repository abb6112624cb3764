"""Grey-box emulation of a real reverb, pedalboard's Freeverb (``reverb:greybox``).

The reverb emulator learns pedalboard's ``Reverb`` (JUCE's Freeverb) through the
mapping of :func:`console_effects.references.freeverb_settings`. Its form is
Freeverb's own topology (:mod:`console_effects.functional.freeverb`): the mono
sum of the input feeds eight parallel feedback combs per channel, each with a
one-pole damping filter in its loop, then four Schroeder sections in series;
the delays are Freeverb's published tunings. What is learned is what the
reference does with this effect's knobs: a small network (the grey-box
:class:`~console_effects.greybox.SettingsMap`,
about 2,500 weights) maps ``decay_s``, ``brightness`` and ``width`` to every
comb's feedback and damping, the stereo mix of the two channels and the wet
level. Before training it takes the knobs at face value: every comb rings for
``decay_s``, damping grows as ``brightness`` falls, Freeverb's width matrix,
unit wet energy.

Why this form beside the paper's TCN (``reverb:tcn``): a reverb's tail is long
(seconds), so a TCN must either reach far back at great cost or stop early (the
TCN reverb hears 3 s); and a noise-like tail can only be matched in its
envelope, never sample for sample. A recursive structure of the
reference's own form costs what the filters cost, whatever the decay (about
0.003 CPU-s per track-second on one thread), reaches the whole tail, and can
match the reference's response itself, phase included. It would not fit a
reverb of another topology (a convolution with a measured room, a plate): for
those the form would have to change (for instance a learned feedback-delay
network or band-wise decaying noise, like ``reverb:dsp``).

Closed-form and exact, outside the network: the mono sum of a stereo input
(Freeverb sums its inputs), the pre-delay (a delay of the wet signal, rounded
to a sample as in the reference) and the dry/wet ``mix``. It runs at the
audio's own rate (the delays scale with it, as in JUCE), so nothing is resampled.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, ClassVar, Literal

import attrs
import numpy as np
import torch
from torch import nn

from console.errors import CheckpointError
from console.export.mapping import ArdourMapping, LV2Plugin, Port, Settings
from console.params import ParamSpec, normalise_columns
from console_effects.emulator_checkpoint import CHECKPOINT_NAMES as EMULATOR_CHECKPOINT_NAMES
from console_effects.emulator_checkpoint import (  # noqa: F401 (the format's names, re-exported)
    EMULATOR_FORMAT,
    EMULATOR_FORMAT_VERSION,
    EMULATOR_SAMPLE_RATE,
    read_checkpoint,
    resolve_checkpoint,
    write_checkpoint,
)
from console_effects.functional.freeverb import ALLPASS_FEEDBACK, delays, freeverb
from console_effects.functional.reverb import band_weights, estimate_rt60
from console_effects.greybox import SettingsMap
from console_effects.neural_emulator import NeuralEmulator
from console_effects.references import freeverb_rt60
from console_effects.reverb import Reverb, a_reverb_room_size

#: The ``network`` entry of this emulator's checkpoint config.
FREEVERB_NETWORK = "freeverb"
#: File names searched for in a folder given after ``@`` (the training script writes ``reverb.pt``).
CHECKPOINT_NAMES = ("reverb.pt", *EMULATOR_CHECKPOINT_NAMES)
#: The settings the network reads; ``predelay_ms`` and ``mix`` are applied exactly.
MAPPED = ("decay_s", "brightness", "width")
_LN_1000 = math.log(1000.0)


def _section_energy(a: float) -> float:
    """Mean over frequency of ``|((1 + a) z^-P - 1) / (1 - a z^-P)|^2``: one Freeverb section.

    ``(alpha - beta cos) / (gamma - delta cos)`` averages to
    ``beta / delta + (alpha - beta gamma / delta) / sqrt(gamma^2 - delta^2)``.
    """
    alpha, beta, gamma, delta = (1.0 + a) ** 2 + 1.0, 2.0 * (1.0 + a), 1.0 + a * a, 2.0 * a
    return beta / delta + (alpha - beta * gamma / delta) / math.sqrt(gamma**2 - delta**2)


#: Energy gain of the four sections in series (7/3 each at Freeverb's 0.5), taken as independent.
_CHAIN_ENERGY = _section_energy(ALLPASS_FEEDBACK) ** 4

Band = Literal["mid", "4k"]
#: Band weights for :func:`band_rt60`: centres of triangular octave weights, and which to sum.
_BANDS: dict[str, tuple[tuple[float, ...], tuple[int, ...]]] = {
    "mid": ((250.0, 500.0, 1000.0, 2000.0), (1, 2)),  # flat from 500 Hz to 1 kHz
    "4k": ((2000.0, 4000.0, 8000.0), (1,)),
}


def band_rt60(
    ir: np.ndarray | torch.Tensor, sample_rate: int, band: Band = "mid",
    top_db: float = -5.0, bottom_db: float = -35.0,
) -> float:
    """RT60 (s) of a response ``(C, L)`` in a band: T30 of the mean energy of its channels.

    ``"mid"`` is 500 Hz to 1 kHz (with octave skirts), the mid-frequency RT60 of
    room acoustics and what ``decay_s`` promises; ``"4k"`` the octave around
    4 kHz. Schroeder integration, least-squares slope from ``top_db`` to
    ``bottom_db`` (:func:`~console_effects.functional.reverb.estimate_rt60`).
    """
    data = torch.as_tensor(np.asarray(ir, dtype=np.float64))
    data = data.reshape(-1, data.shape[-1])
    centres, rows = _BANDS[band]
    spectrum = torch.fft.rfft(data, dim=-1)
    freqs = torch.fft.rfftfreq(data.shape[-1], d=1.0 / sample_rate, dtype=torch.float64)
    weights = band_weights(freqs, centres)[list(rows)].sum(dim=0)
    filtered = torch.fft.irfft(spectrum * weights, n=data.shape[-1], dim=-1)
    envelope = filtered.square().mean(dim=0).sqrt()
    return float(estimate_rt60(envelope[None], sample_rate, top_db, bottom_db)[0])


@attrs.frozen
class FreeverbConfig:
    """Shape of the emulator's network; saved in its checkpoints."""

    #: Always :data:`FREEVERB_NETWORK`: tells this network's checkpoints from the TCNs'.
    network: str = attrs.field(default=FREEVERB_NETWORK,
                               validator=attrs.validators.in_((FREEVERB_NETWORK,)))
    #: Settings the map reads (:data:`MAPPED`).
    num_params: int = len(MAPPED)
    #: Hidden units of each layer of the settings map.
    channels: int = 32
    #: Hidden layers of the settings map.
    layers: int = 2

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


#: Combs per channel and the map's outputs: a log-RT60 and a damping logit per comb
#: and channel, then the width and the log wet gain.
_COMBS = 8
_OUTPUTS = 2 * _COMBS * 2 + 2


def comb_energy(feedback: torch.Tensor, damping: torch.Tensor) -> torch.Tensor:
    """Energy of a damped feedback comb's impulse response (its delay long against the damping).

    ``H = z^-D / (1 - g LP(z) z^-D)`` with ``LP = (1 - d) / (1 - d z^-1)``;
    averaging ``|H|^2`` over the comb's teeth gives ``1 / (1 - g^2 |LP|^2)``, and
    over frequency ``1 + K / sqrt((A - K)^2 - B^2)`` with ``A = 1 + d^2``,
    ``B = 2 d``, ``K = g^2 (1 - d)^2``.
    """
    a = 1.0 + damping.square()
    b = 2.0 * damping
    k = (feedback * (1.0 - damping)).square()
    return 1.0 + k / torch.sqrt((a - k).square() - b.square())


class FreeverbNetwork(nn.Module):
    """The settings map and the Freeverb structure it drives (:meth:`inner`, :meth:`forward`)."""

    def __init__(self, config: FreeverbConfig) -> None:
        super().__init__()
        self.config = config
        self.map = SettingsMap(config.num_params, _OUTPUTS, config.channels, config.layers)

    @property
    def receptive_field(self) -> float:
        return math.inf

    def inner(self, settings: torch.Tensor, sample_rate: int) -> dict[str, torch.Tensor]:
        """Structure parameters for ``(N, 3)`` physical ``decay_s``, ``brightness``, ``width``.

        ``feedback`` and ``damping`` ``(N, 2, 8)`` (float64); ``front`` and
        ``cross`` ``(N,)``, the width matrix's diagonal and off-diagonal
        (Freeverb's ``(1 +- width) / 2``, with the learned correction of the
        width); ``gain`` ``(N,)``, which scales the wet signal to unit energy
        (by :func:`comb_energy`, times the learned correction).
        """
        decay, brightness, width = settings.double().unbind(1)
        normalised = normalise_columns(_MAPPED_SPECS, settings.double())
        o = self.map((2.0 * normalised - 1.0).float()).double()
        n = settings.shape[0]
        comb_delays = torch.from_numpy(delays(sample_rate)[0]).to(o.device, torch.float64)
        rt60 = decay[:, None, None] * torch.exp(o[:, : 2 * _COMBS].reshape(n, 2, _COMBS))
        feedback = torch.exp(-_LN_1000 * comb_delays / (sample_rate * rt60))
        prior = 0.02 + 0.48 * (1.0 - brightness.clamp(0.0, 1.0))
        logits = torch.logit(prior)[:, None, None] + o[:, 2 * _COMBS : 4 * _COMBS].reshape(
            n, 2, _COMBS)
        damping = torch.sigmoid(logits)
        mixed_width = width + o[:, -2]
        front, cross = 0.5 * (1.0 + mixed_width), 0.5 * (1.0 - mixed_width)
        energy = comb_energy(feedback, damping).sum(dim=2).mean(dim=1) * _CHAIN_ENERGY
        gain = torch.exp(o[:, -1]) * torch.rsqrt(energy * (front.square() + cross.square()))
        return {"feedback": feedback, "damping": damping, "front": front, "cross": cross,
                "gain": gain}

    def forward(
        self, x: torch.Tensor, settings: torch.Tensor, sample_rate: int,
        delay: torch.Tensor | None = None, mix: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``(N, 2, T)``: ``x`` ``(N, C, T)`` (mono or stereo) mixed with its reverberation.

        The reverberation (of the mean of ``x``'s channels, delayed by ``delay``
        ``(N,)`` samples, rounded) is scaled by ``mix`` ``(N,)`` and the dry
        signal by ``1 - mix``; without ``mix``, the wet signal alone. All in the
        compiled loop, at no extra pass.
        """
        p = self.inner(settings, sample_rate)
        gain = p["gain"] if mix is None else p["gain"] * mix.double()
        front, cross = gain * p["front"], gain * p["cross"]
        matrix = torch.stack([torch.stack([front, cross], -1), torch.stack([cross, front], -1)], 1)
        rows = x.shape[0]
        delay = x.new_zeros(rows) if delay is None else delay
        dry = x.new_zeros(rows) if mix is None else 1.0 - mix
        return freeverb(x, p["feedback"], p["damping"], matrix, delay, dry, sample_rate)


#: The shortest decay (mid-band RT60, s) the reverb emulators ring: Freeverb's at room size 0.
SHORTEST_DECAY_S = round(freeverb_rt60(0.0, 0.0), 2)


def _emulated_params() -> tuple[ParamSpec, ...]:
    """``reverb:dsp``'s settings, ``decay_s`` saying where the emulators stop."""
    return tuple(
        attrs.evolve(spec, description=(
            f"{spec.description} The emulators ring at least about 0.5 s (their reference, "
            f"Freeverb, cannot ring shorter than {SHORTEST_DECAY_S:g} s; the grey-box reaches "
            f"0.52 s): shorter values sound like that."
        )) if spec.name == "decay_s" else spec
        for spec in Reverb.params
    )


#: The reverb emulators' settings: ``reverb:dsp``'s ranges (so params files of either render
#: with the other), the decay's floor stated where the user sets it.
EMULATED_REVERB_PARAMS = _emulated_params()


def emulated_decay_s(settings: Settings) -> float:
    """The decay an emulator rings for these settings: ``decay_s``, or Freeverb's shortest at
    this damping where that is longer."""
    return max(settings["decay_s"], freeverb_rt60(0.0, 1.0 - settings["brightness"]))


#: ``reverb:dsp``'s a-Reverb mapping with the decay the emulators really ring.
EMULATED_REVERB_ARDOUR = ArdourMapping(
    targets=(
        LV2Plugin(
            "urn:ardour:a-reverb", "ACE Reverb", outputs=2,
            ports=(
                Port("blend", lambda s: s["mix"], ("mix",), "fraction", 0.0, 1.0,
                     note="same dry/wet crossfade"),
                Port("roomsz", lambda s: a_reverb_room_size(emulated_decay_s(s)),
                     ("decay_s", "brightness"), "", 0.5, 1.0,
                     note="the room size whose measured RT60 is the decay the emulator rings "
                          "(decay_s, at least Freeverb's shortest at this brightness, about "
                          "0.63 s)"),
                Port("enable", 1.0),
            ),
        ),
    ),
    unmapped={
        "predelay_ms": Reverb.ardour.unmapped["predelay_ms"],
        "brightness": "a-Reverb's damping is fixed (a two-sample average in its loop); "
                      "brightness only sets the shortest decay",
        "width": Reverb.ardour.unmapped["width"],
    },
)


class ReverbGreyBox(NeuralEmulator):
    """Grey-box emulation of pedalboard's Freeverb; mono or stereo in, stereo out.

    Same settings as ``reverb:dsp`` (``params.json`` files of either render with
    the other), with the reference's limits: Freeverb rings at least about
    0.63 s (mid-frequency RT60), so shorter ``decay_s`` sound like that; a
    stereo input is summed to mono before the reverb (as Freeverb does), the dry
    path keeps its stereo. ``mix`` 0 is exactly the dry input.

    ``ReverbEmulator(weights)`` loads a checkpoint (a file, or a folder holding
    :data:`CHECKPOINT_NAMES`); with no argument the shipped weights load. The
    weights are frozen; gradients reach the audio and every setting.
    ``config=`` builds an untrained network instead, for training.
    """

    name = "reverb:greybox"
    legacy_names = ("reverb:tcn",)
    network_kind = FREEVERB_NETWORK
    description = ("Reverb: grey-box emulation of pedalboard's Freeverb (learned settings map, "
                   "Freeverb's combs and all-passes).")
    params = EMULATED_REVERB_PARAMS
    ardour = EMULATED_REVERB_ARDOUR
    #: Effect family, the name of the shipped weights file and the checkpoint's tag.
    family: ClassVar[str] = "reverb"
    #: The registered effect trained against with ``--reference dsp``.
    dsp_reference: ClassVar[str] = "reverb:dsp"
    #: Segment length of training examples: long enough to hear a tail fall.
    training_seconds: ClassVar[float] = 4.0
    #: It learns the wet signal alone (see scripts/train_reverb_emulator.py).
    training_settings: ClassVar[dict[str, float]] = {"mix": 1.0}
    checkpoint_names: ClassVar[tuple[str, ...]] = CHECKPOINT_NAMES
    checkpoint_writer: ClassVar[str] = "scripts/train_reverb_emulator.py"

    # -- the network it runs -------------------------------------------------------------------

    @classmethod
    def default_config(cls) -> FreeverbConfig:
        return FreeverbConfig()

    @classmethod
    def build_network(cls, config: FreeverbConfig) -> FreeverbNetwork:
        return FreeverbNetwork(config)

    @classmethod
    def config_from_dict(cls, data: dict[str, Any], source: Path) -> FreeverbConfig:
        """The config of a checkpoint's ``config`` entry; a clear error for another network."""
        kind = data.get("network", "tcn")
        if kind != FREEVERB_NETWORK:
            what = "a TCN" if kind == "tcn" else f"a {kind!r} network"
            raise CheckpointError(
                f"{source} holds {what}; {cls.name} is a grey-box emulation of Freeverb and "
                f"cannot load it. Use it as reverb:tcn@{source} if it is a TCN of this version, "
                f"or retrain it with `python scripts/train_reverb_emulator.py --out DIR` and use "
                f"{cls.name}@DIR."
            )
        try:
            return FreeverbConfig(**data)
        except (TypeError, ValueError) as exc:
            raise CheckpointError(f"{source} has a damaged network config {data}: {exc}") from exc

    @property
    def receptive_field_s(self) -> float:
        """Recursive: the whole past."""
        return math.inf

    # -- the effect ---------------------------------------------------------------------------

    def output_channels(self, in_channels: int) -> int:
        if in_channels not in (1, 2):
            raise ValueError(f"reverb takes mono or stereo input, not {in_channels} channels")
        return 2

    def _run(
        self, x: torch.Tensor, params: torch.Tensor, sample_rate: int, mixed: bool
    ) -> torch.Tensor:
        """``(N, 2, T)``: the output at the settings' mix (``mixed``), else the wet signal."""
        p = self.unpack(params)
        delay = p["predelay_ms"][:, 0, 0] * (sample_rate / 1000.0)
        names = [spec.name for spec in self.params]
        columns = [names.index(name) for name in MAPPED]
        mix = p["mix"][:, 0, 0] if mixed else None
        return self.network(x, params[:, columns], sample_rate, delay, mix)

    def impulse_response(
        self, params: torch.Tensor, sample_rate: int, length: int | None = None
    ) -> torch.Tensor:
        """Wet response ``(N, 2, L)`` to a unit impulse, pre-delay included, before the mix.

        ``length`` defaults to 1.5 times the longest decay in ``params`` (at least
        Freeverb's shortest, 0.63 s) plus the longest pre-delay.
        """
        p = self.unpack(params)
        if length is None:
            decay = max(float(p["decay_s"].detach().max()), 0.65)
            predelay = float(p["predelay_ms"].detach().max()) * sample_rate / 1000.0
            length = math.ceil(1.5 * decay * sample_rate + predelay) + 1
        impulse = params.new_zeros(params.shape[0], 1, length)
        impulse[..., 0] = 1.0
        return self._run(impulse, params, sample_rate, mixed=False)

    def process(self, x: torch.Tensor, params: torch.Tensor, sample_rate: int) -> torch.Tensor:
        return self._run(x, params, sample_rate, mixed=True)


#: The ParamSpecs of :data:`MAPPED`, in that order.
_MAPPED_SPECS = tuple(next(s for s in EMULATED_REVERB_PARAMS if s.name == name)
                      for name in MAPPED)


#: The name this class had while it was registered as ``reverb:tcn``.
ReverbEmulator = ReverbGreyBox
