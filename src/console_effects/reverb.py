"""Differentiable artificial reverb (``reverb:dsp``)."""

from __future__ import annotations

import math

import torch

from console.effect import Effect
from console.export.mapping import ArdourMapping, LV2Plugin, Port, Settings
from console.params import ParamSpec
from console_effects.functional.reverb import (
    band_cross_power,
    band_decay_times,
    band_noise,
    decay_groups,
    fft_convolve,
    fft_length_groups,
    merge_equal_decay_bands,
    stereo_impulse_response,
    tail_length,
)

DEFAULT_NOISE_SEED = 20210606

#: a-Reverb's RT60 (s) at room sizes 0.5 to 1, measured on Ardour 7.3's own renders of an
#: impulse (T30, the mean of both channels); its comb filters alone would predict 15-25 % less.
_A_REVERB_DECAY = (
    (0.50, 0.677), (0.55, 0.729), (0.60, 0.801), (0.65, 0.880), (0.70, 0.997),
    (0.80, 1.214), (0.85, 1.429), (0.90, 1.666), (0.95, 2.049), (1.00, 2.676),
)
#: a-Reverb starts at room size 0.75 but with the full room's feedback, and only updates its
#: feedback when the control moves at least 0.01 away: a session saved inside this window
#: plays the full room (2.7 s). Room sizes there are moved to its edge.
_A_REVERB_STUCK = (0.74, 0.76)


def a_reverb_room_size(decay_s: float) -> float:
    """The a-Reverb room size whose RT60 is ``decay_s``, interpolated in log time.

    Beyond the measured 0.68-2.68 s the end segments are extended, so the result
    leaves a-Reverb's 0.5-1 range and the export says the value was held.
    """
    points = _A_REVERB_DECAY
    target = math.log(decay_s)
    pairs = list(zip(points, points[1:], strict=False))
    (size_a, decay_a), (size_b, decay_b) = next(
        (pair for pair in pairs if target <= math.log(pair[1][1])), pairs[-1])
    share = (target - math.log(decay_a)) / (math.log(decay_b) - math.log(decay_a))
    size = size_a + share * (size_b - size_a)
    low, high = _A_REVERB_STUCK[0] - 0.001, _A_REVERB_STUCK[1] + 0.001
    if low < size < high:
        size = low if size < 0.75 else high
    return size


def _room_size(settings: Settings) -> float:
    return a_reverb_room_size(settings["decay_s"])


#: a-Reverb (a Schroeder reverberator) as an insert: mono or stereo in, stereo out.
ARDOUR_REVERB = ArdourMapping(
    targets=(
        LV2Plugin(
            "urn:ardour:a-reverb", "ACE Reverb", outputs=2,
            ports=(
                Port("blend", lambda s: s["mix"], ("mix",), "fraction", 0.0, 1.0,
                     note="same dry/wet crossfade; a-Reverb's wet signal is quieter than ours "
                          "(see the measured difference)"),
                Port("roomsz", _room_size, ("decay_s",), "", 0.5, 1.0,
                     note="the room size whose measured RT60 is decay_s; a-Reverb spans "
                          "0.68 to 2.68 s, so shorter and longer decays are held there"),
                Port("enable", 1.0),
            ),
        ),
    ),
    unmapped={
        "predelay_ms": "a-Reverb has no pre-delay; its tail starts after its comb delays "
                       "(64 to 90 ms)",
        "brightness": "a-Reverb's damping is fixed (a two-sample average in its loop)",
        "width": "a-Reverb's two channels are always nearly uncorrelated (combs 7 samples "
                 "apart)",
    },
)


class Reverb(Effect):
    """Band-wise decaying noise reverb, mono or stereo in, stereo out.

    The output keeps the input's length (the chain requires it), so the part
    of the tail that rings past the end of the input is not heard; pad the
    stems with silence to keep it. Within the input, the convolution is exact
    and each row's response runs to its own -90 dB point (1.5 x its RT60), so a
    row sounds the same whatever else is in the batch.
    """

    name = "reverb:dsp"
    description = "Noise-shaped impulse response with band-wise decay, FFT convolution (DSP)."
    params = (
        ParamSpec(
            "decay_s", "s", 0.1, 8.0, 1.0, scale="log",
            description="Reverberation time RT60: how long the tail takes to fall by 60 dB.",
        ),
        ParamSpec(
            "predelay_ms", "ms", 0.0, 100.0, 10.0,
            description="Gap before the tail starts; longer suggests a larger space.",
        ),
        ParamSpec(
            "brightness", "fraction", 0.0, 1.0, 0.5,
            description="1: all bands decay alike; 0: each octave above 1 kHz rings half as long.",
        ),
        ParamSpec(
            "width", "fraction", 0.0, 1.0, 0.7,
            description="Decorrelation of the left and right tails; 0 is mono.",
        ),
        ParamSpec(
            "mix", "fraction", 0.0, 1.0, 0.2,
            description="Share of reverberant signal in the output; 0 passes the dry input.",
        ),
    )
    ardour = ARDOUR_REVERB

    def __init__(self, seed: int = DEFAULT_NOISE_SEED) -> None:
        super().__init__()
        # Saved with the console, so a reloaded mix renders the same tail.
        self.register_buffer("noise_seed", torch.tensor(seed, dtype=torch.int64))
        self._noise_cache: dict[tuple, tuple[torch.Tensor, torch.Tensor]] = {}

    def output_channels(self, in_channels: int) -> int:
        if in_channels not in (1, 2):
            raise ValueError(f"reverb takes mono or stereo input, not {in_channels} channels")
        return 2

    def _band_noise(
        self, sample_rate: int, device: torch.device
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Band noise long enough for the longest declared decay, and its cross-power.

        Bands that always decay alike are summed (:func:`decay_groups`): what depends
        only on the seed and the rate is computed once per effect and kept.
        """
        seed = int(self.noise_seed)
        key = (sample_rate, seed, str(device))
        if key not in self._noise_cache:
            length = tail_length(self.params[0].maximum, sample_rate)
            noise = merge_equal_decay_bands(band_noise(length, sample_rate, seed), decay_groups())
            self._noise_cache[key] = (
                noise.to(device=device, dtype=torch.float32),
                band_cross_power(noise).to(device),
            )
        return self._noise_cache[key]

    def impulse_response(
        self, params: torch.Tensor, sample_rate: int, length: int | None = None
    ) -> torch.Tensor:
        """Wet response ``(N, 2, L)`` to a unit impulse, pre-delay included, before the mix.

        ``length`` defaults to the whole tail of the longest decay in ``params``.
        """
        p = self.unpack(params)
        if length is None:
            predelay = float(p["predelay_ms"].detach().max()) * sample_rate / 1000.0
            length = tail_length(float(p["decay_s"].detach().max()), sample_rate) + int(predelay)
        impulse = params.new_zeros(params.shape[0], 1, length)
        impulse[..., 0] = 1.0
        return self._wet(impulse, params, sample_rate)

    def _wet(
        self, x: torch.Tensor, params: torch.Tensor, sample_rate: int,
        gain: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The wet signal ``(N, 2, T)``: each row's response, up to its own tail, convolved.

        Rows are grouped by the FFT length their input, tail and pre-delay need, so a
        short decay is not convolved at the length of the longest one in the batch.
        ``gain`` ``(N,)`` scales each row's response (the mix), at no extra pass.
        """
        p = {name: value[:, 0, 0] for name, value in self.unpack(params).items()}
        noise, cross_power = self._band_noise(sample_rate, x.device)
        samples = x.shape[-1]
        # One RT60 per group of bands that always decay alike (the first band of each).
        representatives = [group[0] for group in decay_groups()]
        rt60 = band_decay_times(p["decay_s"], p["brightness"])[:, representatives]
        delay = p["predelay_ms"] * (sample_rate / 1000.0)
        tails = [min(samples, tail_length(d, sample_rate)) for d in p["decay_s"].detach().tolist()]
        required = [samples + tail + math.ceil(d) + 1
                    for tail, d in zip(tails, delay.detach().tolist(), strict=True)]
        groups = fft_length_groups(required)
        wet = None if len(groups) == 1 else x.new_empty(x.shape[0], 2, samples)
        for _, rows in groups:
            index = torch.tensor(rows, device=x.device)
            lengths = torch.tensor([tails[r] for r in rows])
            ir = stereo_impulse_response(
                noise[..., : int(lengths.max())], cross_power, rt60[index], p["width"][index],
                sample_rate, lengths, None if gain is None else gain[index],
            )
            if wet is None:  # one group: every row, in order
                return fft_convolve(x, ir.to(x.dtype), delay, samples)
            part = fft_convolve(x[index], ir.to(x.dtype), delay[index], samples)
            wet.index_copy_(0, index, part)
        return wet

    def process(self, x: torch.Tensor, params: torch.Tensor, sample_rate: int) -> torch.Tensor:
        mix = self.unpack(params)["mix"]
        # A stereo track feeds the room from both channels (a hard-left source still
        # rings on both sides), as Freeverb and hardware reverbs do; its dry image stays.
        source = x if x.shape[1] == 1 else x.mean(dim=1, keepdim=True)
        wet = self._wet(source, params, sample_rate, gain=mix[:, 0, 0])  # mix x the wet signal
        return torch.addcmul(wet, x, 1.0 - mix)  # + (1 - mix) x the dry one, in one pass
