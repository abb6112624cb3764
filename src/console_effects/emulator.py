"""The emulator bases, and the grey-box emulators (``eq:greybox``, ``comp:greybox``, defaults).

As in Steinmetz et al. (2021), an emulator is a network conditioned on the
effect's settings and trained on audio that a reference effect processed at
random settings, then frozen inside the console. An emulator declares the same
ParamSpecs as the DSP effect it stands in for, so a ``params.json`` made with
one renders with the other. Two kinds of network:

- **Conditioned TCNs**, the paper's networks: ``eq:tcn``, ``comp:tcn`` and
  ``reverb:tcn`` (:mod:`console_effects.tcn_emulators`, on
  :class:`TCNEmulator` here and :mod:`console_effects.tcn`).
- **Grey-boxes**, this project's, beyond the paper
  (:mod:`console_effects.greybox`): the form of the effect is fixed
  (second-order sections in series; a detector, attack/release smoothing and
  a static curve; Freeverb's combs and all-passes for ``reverb:greybox``, in
  :mod:`console_effects.reverb_emulator`) and a small network learns what the
  device's knobs do to it. They cost what the DSP effects cost (well under
  0.01 CPU-s per track-second), are stable, exactly flat at 0 dB (EQ) and
  exactly no compression at ratio 1 by construction, and they measure closer
  to their references than the TCNs (``docs/emulators.rst``), so they are the
  defaults for ``eq``, ``comp`` and ``reverb``. Until this version they were
  registered as ``eq:tcn``, ``comp:tcn`` and ``reverb:tcn``: files that name
  them so load them by what they hold (``legacy_names``, ``accepts``).

Parts of an effect that are exact and cheap in closed form stay in closed
form: the compressor's make-up gain, the reverb's pre-delay and wet/dry mix.
The network then spends its capacity on what needs it.

The TCNs run at their ``internal_rate``; audio at another rate is resampled
in and out (torchaudio's windowed sinc, differentiable). The grey-box
networks run at the audio's own rate: their filters are designed for it.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path
from typing import Any, ClassVar

import torch
import torchaudio

from console.errors import CheckpointError
from console.export.mapping import ArdourMapping, LV2Plugin, Port, Settings
from console_effects.compressor import Compressor
from console_effects.emulator_checkpoint import (  # noqa: F401 (the format's names, re-exported)
    CHECKPOINT_NAMES,
    EMULATOR_FORMAT,
    EMULATOR_FORMAT_VERSION,
    EMULATOR_SAMPLE_RATE,
    read_checkpoint,
    resolve_checkpoint,
    write_checkpoint,
)
from console_effects.eq import ParametricEQ, response_grid
from console_effects.functional.biquad import magnitude_db
from console_effects.functional.compressor import compressor_gain_db, static_curve_db
from console_effects.greybox import (
    COMP_FEEDFORWARD,
    COMP_MAPPED,
    EQ_BIQUADS,
    PARAMS_PER_SECTION,
    BiquadSections,
    FeedForwardCompressor,
    GreyBoxConfig,
)
from console_effects.neural_emulator import NeuralEmulator
from console_effects.reverb_emulator import (  # noqa: F401 (ReverbEmulator: re-exported)
    ReverbEmulator,
    ReverbGreyBox,
)
from console_effects.tcn import TCN_NETWORK, ConditionedTCN, TCNConfig


def _resample(x: torch.Tensor, orig: int, target: int) -> torch.Tensor:
    if orig == target:
        return x
    return torchaudio.functional.resample(x, orig, target)


def _fit_length(x: torch.Tensor, length: int) -> torch.Tensor:
    if x.shape[-1] >= length:
        return x[..., :length]
    return torch.nn.functional.pad(x, (0, length - x.shape[-1]))


class TCNEmulator(NeuralEmulator):
    """A frozen conditioned TCN standing in for an effect (the paper's emulators).

    The base of ``eq:tcn``, ``comp:tcn``, ``reverb:tcn``
    (:mod:`console_effects.tcn_emulators`) and of a third party's: subclasses
    give the effect (``name``, ``params``, ``family``, ``dsp_reference``), a
    :meth:`default_config` whose receptive field covers the effect's memory,
    and a ``process`` that calls :meth:`run_network`. A checkpoint's config
    without a ``"network"`` entry is a TCN (every checkpoint written before the
    entry was).
    """

    network_kind: ClassVar[str] = TCN_NETWORK
    #: Rate the network itself runs at.
    internal_rate: ClassVar[int] = EMULATOR_SAMPLE_RATE

    @classmethod
    def default_config(cls) -> TCNConfig:
        raise NotImplementedError

    @classmethod
    def build_network(cls, config: TCNConfig) -> torch.nn.Module:
        """The network for ``config``: one conditioned TCN, unless the effect needs more."""
        return ConditionedTCN(config)

    @classmethod
    def config_from_dict(cls, data: dict[str, Any], source: Path) -> TCNConfig:
        kind = data.get("network", TCN_NETWORK)
        if kind != TCN_NETWORK:
            raise CheckpointError(
                f"{source} holds a {kind!r} network; {cls.name} runs a TCN. Retrain it with "
                f"`console train-emulator {cls.name}`, or give the checkpoint to the emulator "
                f"it was made for ({cls.family}:greybox for a grey-box's)."
            )
        try:
            return TCNConfig(**data)
        except (TypeError, ValueError) as exc:
            raise CheckpointError(f"{source} has a damaged network config {data}: {exc}") from exc

    def _checked(self, config: TCNConfig) -> TCNConfig:
        expected = self.default_config()
        shape = (config.num_params, config.in_channels, config.out_channels, config.linear)
        if shape != (
            expected.num_params, expected.in_channels, expected.out_channels, expected.linear
        ):
            kind = "linear" if config.linear else "non-linear"
            raise CheckpointError(
                f"{self.name}: the network is {kind} and takes {config.num_params} parameters "
                f"and {config.in_channels} -> {config.out_channels} channels; this effect needs "
                f"{'linear' if expected.linear else 'non-linear'}, {expected.num_params} and "
                f"{expected.in_channels} -> {expected.out_channels} (a checkpoint of an older "
                f"version? retrain it)."
            )
        return config

    @property
    def receptive_field_s(self) -> float:
        return self.network.receptive_field / self.internal_rate

    def run_network(self, x: torch.Tensor, params: torch.Tensor, sample_rate: int) -> torch.Tensor:
        """The network on every channel of ``x`` ``(N, C, T)`` as its own mono row.

        Returns ``(N, C, C_out, T)`` at ``sample_rate``.
        """
        n, c, t = x.shape
        rows = _resample(x.reshape(n * c, 1, t), sample_rate, self.internal_rate)
        cond = self.normalise(params).repeat_interleave(c, dim=0)
        out = self.network(rows, cond)
        out = _fit_length(_resample(out, self.internal_rate, sample_rate), t)
        return out.reshape(n, c, out.shape[1], t)


class GreyBoxEmulator(NeuralEmulator):
    """A frozen grey-box network (:mod:`console_effects.greybox`) standing in for an effect.

    A checkpoint of another kind of network (a TCN) is refused with what to do
    instead; in a spec, ``eq:greybox@DIR`` of a TCN's checkpoint loads it as
    ``eq:tcn`` (see ``accepts``).
    """

    #: A few words on the network, for messages.
    network_words: ClassVar[str] = ""

    @classmethod
    def config_from_dict(cls, data: dict[str, Any], source: Path) -> GreyBoxConfig:
        kind = data.get("network", "tcn")
        if kind != cls.network_kind:
            what = "a TCN" if kind == TCN_NETWORK else f"a {kind!r} network"
            raise CheckpointError(
                f"{source} holds {what}; {cls.name} is {cls.network_words} and cannot "
                f"load it. Use it as {cls.family}:tcn@{source} if it is a TCN of this version, "
                f"or retrain it with `console train-emulator {cls.name} --out DIR` and use "
                f"{cls.name}@DIR."
            )
        try:
            return GreyBoxConfig(**data)
        except (TypeError, ValueError) as exc:
            raise CheckpointError(f"{source} has a damaged network config {data}: {exc}") from exc

    def _checked(self, config: GreyBoxConfig) -> GreyBoxConfig:
        expected = self.default_config()
        if (config.network, config.num_params) != (expected.network, expected.num_params):
            raise CheckpointError(
                f"{self.name}: the network is {config.network!r} of {config.num_params} "
                f"settings; this effect needs {expected.network!r} of {expected.num_params} "
                f"(retrain it with this version)."
            )
        return config

    @property
    def receptive_field_s(self) -> float:
        return math.inf


class EQGreyBox(GreyBoxEmulator):
    """Grey-box emulation of the five-band parametric EQ; same settings as ``eq:dsp``.

    Five second-order sections in series whose poles, zeros and gain a small
    network sets from each section's frequency, gain and Q
    (:class:`~console_effects.greybox.BiquadSections`; the three bells share
    one map). Why this form and not the paper's TCN: an EQ is linear and
    time-invariant and made of such sections, so the form costs nothing in
    fidelity, and it makes the emulator as cheap as ``eq:dsp`` (a compiled
    recursive filter, about 0.0005 CPU-s per track-second on one thread,
    where the TCN took 0.17), unconditionally stable, exactly flat with every
    gain at 0 dB (the TCN rippled by up to 1.1 dB) and exact at any sample
    rate without resampling. Being linear, it is first fitted to the
    reference's frequency responses (``console train-emulator eq
    --response-steps``), then optionally tuned on audio.
    """

    name = "eq:greybox"
    legacy_names = ("eq:tcn",)
    family = "eq"
    dsp_reference = "eq:dsp"
    description = "Parametric EQ emulated by learned biquad sections (grey-box neural emulator)."
    network_kind = EQ_BIQUADS
    network_words = "a grey-box of learned biquad sections"
    params = ParametricEQ.params
    ardour = ParametricEQ.ardour  # it emulates eq:dsp, so Ardour gets the same EQ

    @classmethod
    def default_config(cls) -> GreyBoxConfig:
        """One settings map per kind of section: three settings in, two hidden layers of 16."""
        return GreyBoxConfig(network=EQ_BIQUADS, num_params=PARAMS_PER_SECTION, channels=16)

    @classmethod
    def build_network(cls, config: GreyBoxConfig) -> torch.nn.Module:
        return BiquadSections(config, cls.params)

    def process(self, x: torch.Tensor, params: torch.Tensor, sample_rate: int) -> torch.Tensor:
        return self.network(x, self.normalise(params), sample_rate)

    def frequency_response(
        self, params: torch.Tensor, sample_rate: int, n_freqs: int = 1024
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The emulator's exact magnitude response on a log grid from 20 Hz to Nyquist.

        Same contract as :meth:`ParametricEQ.frequency_response`: ``freqs_hz``
        ``(F,)`` and ``magnitude_db`` ``(N, F)``, in the dtype of ``params``.
        """
        freqs = response_grid(sample_rate / 2.0, n_freqs)
        omega = 2.0 * math.pi * freqs / sample_rate
        with torch.no_grad():
            response = self.network.frequency_response(self.normalise(params), omega, sample_rate)
        dtype = params.dtype if params.is_floating_point() else torch.float32
        return freqs.to(dtype), magnitude_db(response).to(dtype)


class CompressorGreyBox(GreyBoxEmulator):
    """Grey-box emulation of the compressor; same settings as ``comp:dsp``.

    A feed-forward compressor (peak detector, attack/release smoothing, static
    curve with a knee) whose threshold, ratio, time constants and knee a
    small network sets from the knobs
    (:class:`~console_effects.greybox.FeedForwardCompressor`), after Wright
    and Välimäki (2022). Why this form and not the paper's TCN: the
    references (JUCE's compressor in pedalboard, ``comp:dsp``) are of exactly
    this form, so it can match them where the TCN came within 16-21 dB SNR,
    and it costs what ``comp:dsp`` costs (about 0.001 CPU-s per track-second
    on one thread, where the TCN took 0.31), with no receptive field to
    outgrow (the TCN heard 1.27 s back; the recursion hears everything). The
    make-up gain is applied exactly; each channel has its own detector.
    """

    name = "comp:greybox"
    legacy_names = ("comp:tcn",)
    family = "comp"
    dsp_reference = "comp:dsp"
    description = "Compressor emulated by a learned feed-forward compressor (grey-box neural)."
    network_kind = COMP_FEEDFORWARD
    network_words = "a grey-box feed-forward compressor"
    params = Compressor.params

    @classmethod
    def default_config(cls) -> GreyBoxConfig:
        """A map of the five knobs other than make-up: two hidden layers of 16."""
        return GreyBoxConfig(network=COMP_FEEDFORWARD, num_params=len(COMP_MAPPED), channels=16)

    @classmethod
    def build_network(cls, config: GreyBoxConfig) -> torch.nn.Module:
        return FeedForwardCompressor(config, cls.params)

    def process(self, x: torch.Tensor, params: torch.Tensor, sample_rate: int) -> torch.Tensor:
        return self.network(x, self.normalise(params), sample_rate)

    def inner_settings(self, params: torch.Tensor) -> dict[str, torch.Tensor]:
        """The settings ``(N,)`` each the inner compressor runs at for physical ``params``.

        Threshold and knee in dB, ratio, attack and release as exponential time
        constants in ms (``comp:dsp``'s default reading), make-up in dB.
        """
        with torch.no_grad():
            return self.network.inner_settings(self.normalise(params))

    def static_curve(self, params: torch.Tensor, input_db: torch.Tensor) -> torch.Tensor:
        """Output level ``(N, L)`` in dB for steady input levels ``(L,)``, make-up included.

        The curve the emulator runs at: its learned threshold, ratio and knee,
        which ``console plot comp`` draws (it used to draw ``comp:dsp``'s instead).
        """
        inner = self.inner_settings(params)
        return static_curve_db(input_db, inner["threshold_db"], inner["ratio"], inner["knee_db"],
                               inner["makeup_db"])

    def gain_trace(self, x: torch.Tensor, params: torch.Tensor, sample_rate: int) -> torch.Tensor:
        """Gain change ``(N, T)`` in dB (``<= 0``, before make-up) the emulator applies.

        Each channel has its own detector; the trace shows the deepest reduction.
        """
        inner = self.inner_settings(params.to(x.dtype))
        with torch.no_grad():
            return compressor_gain_db(
                x, inner["threshold_db"], inner["ratio"], inner["attack_ms"],
                inner["release_ms"], inner["knee_db"], sample_rate, "exponential",
                stereo_link=False,
            ).amin(dim=1)


    def applied_settings(self, settings: Settings) -> dict[str, float]:
        """One track's settings as the inner compressor runs them (the export's source)."""
        row = torch.tensor([[settings[spec.name] for spec in self.params]], dtype=torch.float64)
        return {name: float(value[0]) for name, value in self.inner_settings(row).items()}



def greybox_comp_mapping(emulator: CompressorGreyBox) -> ArdourMapping:
    """``comp:dsp``'s a-Comp mapping fed with ``emulator``'s inner settings.

    The grey-box learned pedalboard's reading of the knobs: time constants
    about 1/(2 pi) of the knob's milliseconds and a knee of a fraction of a
    dB whatever ``knee_db`` says (JUCE's compressor has none). Exporting the
    knob values would set a-Comp six times slower and soft where the user
    heard fast and hard.
    """
    def inner(name: str, scale: float = 1.0):
        return lambda s: emulator.applied_settings(s)[name] * scale

    note = "the emulator's learned {}, not the knob's value"
    return ArdourMapping(targets=(
        LV2Plugin(
            "urn:ardour:a-comp", "ACE Compressor", stereo_uri="urn:ardour:a-comp#stereo",
            ports=(
                Port("thr", inner("threshold_db"), ("threshold_db",), "dB", -60.0, 0.0,
                     note=note.format("threshold"), follows_level=True),
                Port("rat", inner("ratio"), ("ratio",), "", 1.0, 20.0,
                     note=note.format("ratio")),
                Port("att", inner("attack_ms"), ("attack_ms",), "ms", 0.1, 100.0,
                     note=note.format("attack time constant (about attack / 2 pi)")),
                Port("rel", inner("release_ms"), ("release_ms",), "ms", 1.0, 2000.0,
                     note=note.format("release time constant (about release / 2 pi)")),
                Port("kn", inner("knee_db", 1.0 / 6.0), ("knee_db",), "", 0.0, 8.0,
                     note="the learned knee / 6 (a fraction of a dB: the reference has none)"),
                Port("mak", lambda s: s["makeup_db"], ("makeup_db",), "dB", 0.0, 30.0,
                     note="same"),
                Port("sidech", 0.0, note="no side chain"),
                Port("enable", 1.0),
            ),
        ),
    ))


class _ShippedMapping:
    """``CompressorGreyBox.ardour``: a-Comp set as the network compresses, its learned
    threshold, ratio, time constants and knee, not the knobs' values
    (:func:`greybox_comp_mapping`); read on the class, the shipped weights'."""

    def __get__(self, instance: Any, owner: type) -> ArdourMapping:
        if instance is not None:
            return greybox_comp_mapping(instance)
        return greybox_comp_mapping(_shipped_comp())


@functools.cache
def _shipped_comp() -> CompressorGreyBox:
    try:
        return CompressorGreyBox()
    except CheckpointError:  # no weights installed: the untrained map reads the knobs as they are
        return CompressorGreyBox(config=CompressorGreyBox.default_config())


CompressorGreyBox.ardour = _ShippedMapping()  # type: ignore[assignment, misc]

#: The names these classes had while they were registered as ``:tcn``.
EQEmulator = EQGreyBox
CompressorEmulator = CompressorGreyBox

GREYBOX_EMULATORS: tuple[type, ...] = (EQGreyBox, CompressorGreyBox, ReverbGreyBox)
EMULATORS = GREYBOX_EMULATORS
