"""The paper's neural effects: conditioned TCN emulators (``eq:tcn``, ``comp:tcn``, ``reverb:tcn``).

As in Steinmetz et al. (ICASSP 2021), each is a temporal convolutional network
(:mod:`console_effects.tcn`: dilated causal 1-D convolutions whose channels a
FiLM layer scales and shifts from the effect's normalised settings) trained on
audio that a real effect processed at random settings (pedalboard's, when it is
installed: see :mod:`console_effects.references`), then frozen inside the
console. They declare the settings of the DSP effects they stand in for, so a
``params.json`` made with one renders with the other.

Sized to run in real time on one CPU thread, after Steinmetz and Reiss,
"Efficient neural networks for real-time modeling of analog dynamic range
compression" (AES 2022): few channels, kernel 13 and a dilation growth of 10
(each block reaches ten times further back than the one before, and with a
growth below the kernel size every past sample within reach is heard), and a
receptive field sized to each effect's memory rather than one for all:

- ``eq:tcn``: one *linear* TCN per section (low shelf, three bells sharing one
  network, high shelf) in series, each adding its output to a dry path. An EQ
  is linear and time-invariant, so the TCN drops the paper's activations,
  biases and FiLM shifts (a nonlinearity could only add distortion the
  reference does not have); for fixed settings it is then a filter with an
  exact transfer function, which lets ``console train-emulator`` fit it to the
  reference's frequency responses in minutes before any audio. 0.3 s per
  section: a bell's ringing below about 30 Hz is cut short.
- ``comp:tcn``: one TCN of the five knobs other than make-up, the paper's
  form with PReLU activations, its output added to a dry path; the make-up gain
  is applied exactly. 0.3 s (13,333 samples) back, the receptive field of
  Steinmetz and Reiss's TCN-300: about two of the reference's longest release
  time constants (JUCE reads 1000 ms as 159 ms).
- ``reverb:tcn``: one TCN from the (mono) input to a stereo wet signal,
  conditioned on ``decay_s``, ``brightness`` and ``width``; 3 s back (five
  blocks). Pre-delay (a delay of the wet signal, rounded to a sample) and the
  dry/wet ``mix`` are exact, outside the network, and it learns the wet signal
  alone. A tail longer than 3 s is cut there. The shipped weights did not learn
  to follow ``decay_s``: they ring about 0.54 s at every setting.

How these compare with the grey-box emulators (``:greybox``, the defaults) and
the DSP effects, in fidelity and cost, is the table in ``docs/emulators.rst``
(``benchmarks/bench_fast_effects.py``). Their weights and cards are made by
``scripts/train_emulators.py``.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import attrs
import torch
from torch import nn

from console.export.mapping import ArdourMapping, LV2Plugin, Port
from console_effects.compressor import Compressor
from console_effects.emulator import TCNEmulator
from console_effects.eq import ParametricEQ, response_grid
from console_effects.functional.biquad import magnitude_db
from console_effects.greybox import PARAMS_PER_SECTION, SECTION_KINDS
from console_effects.reverb_emulator import EMULATED_REVERB_ARDOUR, EMULATED_REVERB_PARAMS
from console_effects.tcn import ConditionedTCN, TCNConfig, geometric_dilations

#: Kernel size and dilation growth of every TCN here (Steinmetz and Reiss 2022).
KERNEL, GROWTH = 13, 10


class SectionedTCN(nn.Module):
    """``eq:tcn``'s network: a linear TCN per kind of section, in series, each with a dry path.

    ``(N, 1, T)`` audio and ``(N, 15)`` normalised settings to the equalised
    ``(N, 1, T)``; ``config`` is one section's TCN (three settings, linear).
    A :class:`~console.training.response_fit.SectionedNetwork`, so its
    sections can be fitted to the reference's frequency responses.
    """

    section_kinds: ClassVar[tuple[str, ...]] = SECTION_KINDS

    def __init__(self, config: TCNConfig) -> None:
        super().__init__()
        if not config.linear or config.num_params != PARAMS_PER_SECTION:
            raise ValueError(
                f"EQ sections need linear TCNs of {PARAMS_PER_SECTION} settings, got {config}."
            )
        self.config = config
        self.sections = nn.ModuleDict({kind: ConditionedTCN(config) for kind in SECTION_KINDS})

    @property
    def receptive_field(self) -> int:
        return len(SECTION_KINDS) * (self.config.receptive_field - 1) + 1

    @staticmethod
    def settings_of(normalised: torch.Tensor, index: int) -> torch.Tensor:
        """The ``(N, 3)`` settings of section ``index``."""
        return normalised[:, index * PARAMS_PER_SECTION : (index + 1) * PARAMS_PER_SECTION]

    def forward(self, x: torch.Tensor, normalised: torch.Tensor) -> torch.Tensor:
        for index, kind in enumerate(SECTION_KINDS):
            x = x + self.sections[kind](x, self.settings_of(normalised, index))
        return x

    def section_response(
        self, kind: str, settings: torch.Tensor, omega: torch.Tensor, sample_rate: float = 0.0
    ) -> torch.Tensor:
        """``(N, F)`` complex response of one kind of section (dry path included).

        ``omega`` in radians per sample at the rate the network runs at (the
        reference's, 44.1 kHz, when it is fitted).
        """
        return 1.0 + self.sections[kind].frequency_response(settings, omega)[:, 0, 0]

    def frequency_response(self, normalised: torch.Tensor, omega: torch.Tensor) -> torch.Tensor:
        """``(N, F)`` complex transfer function of the whole EQ at ``omega`` rad/sample."""
        response = None
        for index, kind in enumerate(SECTION_KINDS):
            section = self.section_response(kind, self.settings_of(normalised, index), omega)
            response = section if response is None else response * section
        return response


class EQTCN(TCNEmulator):
    """The paper's EQ emulator: linear conditioned TCNs in series; settings of ``eq:dsp``.

    See the module's docstring for the design. It runs at 44.1 kHz (other rates
    are resampled in and out) and costs about 0.04 CPU-s per track-second on one
    thread; the grey-box ``eq:greybox`` is the default ``eq``.
    """

    name = "eq:tcn"
    family = "eq"
    dsp_reference = "eq:dsp"
    description = ("Parametric EQ emulated by linear FiLM-conditioned TCNs, one per section "
                   "(neural, the paper's kind of network).")
    params = ParametricEQ.params
    #: Its reference is a cookbook EQ like eq:dsp, which a-EQ reproduces.
    ardour = ParametricEQ.ardour

    @classmethod
    def default_config(cls) -> TCNConfig:
        """One section's TCN: three settings in, linear, 6 channels, 0.3 s back."""
        return TCNConfig(num_params=PARAMS_PER_SECTION, channels=6, kernel_size=KERNEL,
                         dilations=geometric_dilations(GROWTH, 4), cond_dim=32, linear=True)

    @classmethod
    def build_network(cls, config: TCNConfig) -> nn.Module:
        return SectionedTCN(config)

    def process(self, x: torch.Tensor, params: torch.Tensor, sample_rate: int) -> torch.Tensor:
        return self.run_network(x, params, sample_rate)[:, :, 0]  # the sections keep the dry path

    def frequency_response(
        self, params: torch.Tensor, sample_rate: int, n_freqs: int = 1024
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The network's exact magnitude response on a log grid from 20 Hz to Nyquist.

        Same contract as :meth:`ParametricEQ.frequency_response`: ``freqs_hz``
        ``(F,)`` and ``magnitude_db`` ``(N, F)``, in the dtype of ``params``.
        Above 22.05 kHz (at higher rates) the response is the resampler's.
        """
        nyquist = min(sample_rate, self.internal_rate) / 2.0
        freqs = response_grid(nyquist, n_freqs)
        omega = 2.0 * math.pi * freqs / self.internal_rate
        with torch.no_grad():
            response = self.network.frequency_response(self.normalise(params.float()), omega)
        dtype = params.dtype if params.is_floating_point() else torch.float32
        return freqs.to(dtype), magnitude_db(response).to(dtype)


#: The compressor's knobs the TCN hears (make-up is applied exactly).
COMP_TCN_SETTINGS = 5


def juce_time_constant_ms(knob_ms: float) -> float:
    """The exponential time constant JUCE's compressor runs at for a knob of ``knob_ms``.

    JUCE's ballistics filter sets its coefficient to ``exp(-2 pi / (t fs))`` for
    a time ``t``: a time constant of ``t / (2 pi)``.
    """
    return knob_ms / (2.0 * math.pi)


#: ``comp:tcn`` learned pedalboard's compressor (JUCE: hard knee, ballistics on the level,
#: times read as 2 pi time constants), so Ardour gets what JUCE does with the knobs.
JUCE_ARDOUR = ArdourMapping(
    targets=(
        LV2Plugin(
            "urn:ardour:a-comp", "ACE Compressor", stereo_uri="urn:ardour:a-comp#stereo",
            ports=(
                Port("thr", lambda s: s["threshold_db"], ("threshold_db",), "dB", -60.0, 0.0,
                     note="same", follows_level=True),
                Port("rat", lambda s: s["ratio"], ("ratio",), "", 1.0, 20.0, note="same"),
                Port("att", lambda s: juce_time_constant_ms(s["attack_ms"]), ("attack_ms",),
                     "ms", 0.1, 100.0,
                     note="attack / 2 pi: the reference (JUCE) reads its times so"),
                Port("rel", lambda s: juce_time_constant_ms(s["release_ms"]), ("release_ms",),
                     "ms", 1.0, 2000.0,
                     note="release / 2 pi: the reference (JUCE) reads its times so"),
                Port("kn", 0.0, note="hard knee: the reference has none"),
                Port("mak", lambda s: s["makeup_db"], ("makeup_db",), "dB", 0.0, 30.0,
                     note="same"),
                Port("sidech", 0.0, note="no side chain"),
                Port("enable", 1.0),
            ),
        ),
    ),
    unmapped={"knee_db": "the emulated compressor (pedalboard's, JUCE) has a hard knee "
                         "whatever the knob says, and so has the export"},
)


class CompressorTCN(TCNEmulator):
    """The paper's compressor emulator: a conditioned TCN; settings of ``comp:dsp``.

    Its output is added to a dry path; the make-up gain is applied exactly
    after it. Trained against pedalboard's compressor (JUCE), which has a hard
    knee: ``knee_db`` then changes nothing (``--reference dsp`` trains a soft
    knee). Each channel is compressed on its own (no stereo link), as in JUCE.
    """

    name = "comp:tcn"
    family = "comp"
    dsp_reference = "comp:dsp"
    description = ("Compressor emulated by a FiLM-conditioned causal TCN (neural, the paper's "
                   "kind of network).")
    params = Compressor.params
    ardour = JUCE_ARDOUR

    @classmethod
    def default_config(cls) -> TCNConfig:
        """Five knobs in, 12 channels, four blocks: 13,333 samples (0.30 s) back."""
        return TCNConfig(num_params=COMP_TCN_SETTINGS, channels=12, kernel_size=KERNEL,
                         dilations=geometric_dilations(GROWTH, 4), cond_dim=16)

    def normalise(self, params: torch.Tensor) -> torch.Tensor:
        """The knobs the network hears, normalised: every one but the make-up gain."""
        return super().normalise(params)[:, :COMP_TCN_SETTINGS]

    def process(self, x: torch.Tensor, params: torch.Tensor, sample_rate: int) -> torch.Tensor:
        wet = self.run_network(x, params, sample_rate)[:, :, 0]
        makeup = torch.pow(10.0, params[:, -1] / 20.0)[:, None, None]
        return (x + wet) * makeup


#: The reverb's settings the TCN hears; pre-delay and mix are applied exactly.
REVERB_TCN_SETTINGS = ("decay_s", "brightness", "width")


def _delayed(x: torch.Tensor, samples: torch.Tensor) -> torch.Tensor:
    """``(N, C, T)`` with row ``n`` delayed by ``samples[n]`` (rounded), the length kept."""
    length = x.shape[-1]
    shifts = samples.detach().round().clamp(0, length).long().tolist()
    if not any(shifts):
        return x
    return torch.stack([
        nn.functional.pad(row, (shift, 0))[..., :length] for row, shift in zip(x, shifts,
                                                                              strict=True)
    ])


#: The shipped TCN's tails, measured (the mid-band RT60 of its response to an impulse, T30):
#: about 0.54 s at every ``decay_s`` from 0.1 to 3 s and every brightness.
SHIPPED_TCN_RT60_S = 0.54

#: ``reverb:dsp``'s settings as the emulators read them, ``decay_s`` saying what this one does.
REVERB_TCN_PARAMS = tuple(
    attrs.evolve(spec, description=(
        f"{spec.description} The emulators ring at least about 0.5 s (their reference, "
        f"Freeverb, cannot ring shorter than 0.64 s); reverb:tcn's shipped weights do not "
        f"follow this setting at all: they ring about {SHIPPED_TCN_RT60_S:g} s whatever it says "
        f"(use reverb:greybox or reverb:dsp for a decay of your choice)."
    )) if spec.name == "decay_s" else spec
    for spec in EMULATED_REVERB_PARAMS
)


class ReverbTCN(TCNEmulator):
    """The paper's reverb emulator: a conditioned TCN from mono to stereo wet; ``reverb:dsp``'s
    settings.

    A stereo input is summed to mono for the network (as Freeverb, the
    reference, does); the dry path keeps its stereo. ``mix`` 0 is exactly the
    dry input. Trained against pedalboard's Freeverb through
    :func:`~console_effects.references.freeverb_settings`, which cannot ring
    shorter than about 0.63 s. The shipped weights learnt an average tail: they
    ring about 0.54 s whatever ``decay_s`` says (its description says so), and
    score 0.67 of bypass's MR-STFT error on the wet signal (the target was 0.5).
    """

    name = "reverb:tcn"
    family = "reverb"
    dsp_reference = "reverb:dsp"
    description = ("Reverb emulated by a FiLM-conditioned causal TCN, mono in, stereo wet out "
                   "(neural, the paper's kind of network).")
    params = REVERB_TCN_PARAMS
    ardour = EMULATED_REVERB_ARDOUR
    training_seconds: ClassVar[float] = 4.0
    #: It learns the wet signal alone: the mix is exact, so the dry part would only dilute
    #: the loss.
    training_settings: ClassVar[dict[str, float]] = {"mix": 1.0}

    @classmethod
    def default_config(cls) -> TCNConfig:
        """Three settings in, two channels out, 8 channels, five blocks: 3.0 s back."""
        return TCNConfig(num_params=len(REVERB_TCN_SETTINGS), out_channels=2, channels=8,
                         kernel_size=KERNEL, dilations=geometric_dilations(GROWTH, 5),
                         cond_dim=16)

    def output_channels(self, in_channels: int) -> int:
        if in_channels not in (1, 2):
            raise ValueError(f"reverb takes mono or stereo input, not {in_channels} channels")
        return 2

    def normalise(self, params: torch.Tensor) -> torch.Tensor:
        """The settings the network hears, normalised: ``decay_s``, ``brightness``, ``width``."""
        columns = [[s.name for s in self.params].index(name) for name in REVERB_TCN_SETTINGS]
        return super().normalise(params)[:, columns]

    def wet(self, x: torch.Tensor, params: torch.Tensor, sample_rate: int) -> torch.Tensor:
        """``(N, 2, T)``: the reverberation of ``x``'s mono sum, pre-delay included."""
        p = self.unpack(params)
        wet = self.run_network(x.mean(dim=1, keepdim=True), params, sample_rate)[:, 0]
        return _delayed(wet, p["predelay_ms"][:, 0, 0] * (sample_rate / 1000.0))

    def process(self, x: torch.Tensor, params: torch.Tensor, sample_rate: int) -> torch.Tensor:
        mix = self.unpack(params)["mix"]
        return (1.0 - mix) * x.expand(-1, 2, -1) + mix * self.wet(x, params, sample_rate)


TCN_EMULATORS: tuple[type[Any], ...] = (EQTCN, CompressorTCN, ReverbTCN)
