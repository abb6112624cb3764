"""The random baseline: a random fader and pan position for every stem."""

from __future__ import annotations

import attrs
import torch

from console.chain import EffectChain
from console.mixer import Mixer
from console.params import ParamSpec
from console.tracks import valid_rows


def narrowed(spec: ParamSpec, low: float, high: float) -> ParamSpec:
    """``spec`` restricted to ``[low, high]`` (clipped to its declared range)."""
    low, high = max(spec.minimum, low), min(spec.maximum, high)
    if not low < high:
        raise ValueError(
            f"The range [{low}, {high}] leaves nothing of {spec.name} "
            f"[{spec.minimum}, {spec.maximum}]; widen it."
        )
    return attrs.evolve(spec, minimum=low, maximum=high, default=min(max(spec.default, low), high))


class RandomMixer(Mixer):
    """Renders every stem through the registered ``gain+pan`` chain with random settings.

    Settings are drawn from the effects' own ParamSpecs: the pan over its whole
    range, the gain over ``gain_db`` (default ±12 dB, a plausible fader throw;
    the fader's full -48 to +24 dB would mostly measure clipping). Draws come
    from a generator seeded with ``seed`` when the mixer is built, so a fixed
    sequence of songs always gets the same mixes.
    """

    name = "random"
    description = "Random gain (±12 dB) and pan per stem through the gain and pan effects."

    def __init__(self, seed: int = 0, gain_db: tuple[float, float] = (-12.0, 12.0)) -> None:
        super().__init__()
        self.seed = int(seed)
        self.gain_db = (float(gain_db[0]), float(gain_db[1]))
        self.chain = EffectChain.from_spec("gain+pan")
        self.draw_specs = [
            narrowed(slot.spec, *self.gain_db) if slot.spec.name == "gain_db" else slot.spec
            for slot in self.chain.layout
        ]
        self.generator = torch.Generator().manual_seed(self.seed)

    def options(self) -> dict[str, object]:
        return {"seed": self.seed, "gain_db": list(self.gain_db)}

    def draw(self, count: int) -> torch.Tensor:
        """``(count, P)`` physical settings for the chain's columns."""
        return torch.stack([spec.sample(count, self.generator) for spec in self.draw_specs], -1)

    def mix(self, stems: torch.Tensor, mask: torch.Tensor, sample_rate: int) -> torch.Tensor:
        rows, batch_index = valid_rows(stems, mask)
        params = self.draw(rows.shape[0]).to(stems)
        return self.chain.mix(rows, params, batch_index, stems.shape[0], sample_rate)
