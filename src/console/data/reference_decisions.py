"""The engineer's settings of each stem, where a song folder says what its mix did.

Generated sessions (``console make-sessions``) keep the engineer's settings in
``params.json`` beside ``mix.wav``. Measured failures make them worth reading
during training:

* A console trained only on the mix learns pans that match the mix's side
  energy, and the engineer's stereo reverb puts side energy under every
  track; so it learns to spread every track, a lead vocal and a snare
  included. Holding each track's distance from the centre to the engineer's
  (``console train --pan-weight``) fixes that.
* A console trained only on the mix keeps every fader within a dB or two of
  equal loudness, although the engineer's rules put kick and hi-hat 9 dB
  apart: the mix loss does not reward those moves, because the reference
  carries the engineer's EQ, compression and reverb, which change each
  track's level and tone (see the generalisation page). Holding each track's
  level relative to its song's other tracks to the engineer's (``console
  train --level-weight``) teaches them, and holding a full chain's EQ,
  compressor and reverb settings to the engineer's (``--effect-weight``)
  teaches those.

Targets are read by parameter name, so a console whose chain differs from the
engineer's (``eq:greybox`` for ``eq:dsp``) is held to the settings of the same
names; a setting the file does not hold is ``nan`` and teaches nothing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch

from console.data.song import Song
from console.errors import ConsoleError

if TYPE_CHECKING:  # console.mix_params imports this package through the master stage
    from console.mix_params import ParamSlot

#: The settings file of a reference mix, beside it in the folder layout.
REFERENCE_PARAMS = "params.json"


def reference_settings(song: Song, layout: Sequence[ParamSlot]) -> torch.Tensor | None:
    """``(K, P)`` the reference mix's settings in ``layout``'s columns, stems in song order.

    ``None`` when the song folder holds no readable ``params.json``; ``nan``
    where the file does not set a column for a stem (or names no such stem).
    """
    from console.mix_params import MixParams

    path = song.mix.parent / REFERENCE_PARAMS
    if not path.is_file():
        return None
    try:
        params = MixParams.load(path)
    except ConsoleError:
        return None
    tracks = {t.name: t for t in params.tracks}

    def value(name: str, slot: ParamSlot) -> float:
        track = tracks.get(name)
        if track is None:
            return math.nan
        # a stereo track's pan is held under the name of its stereo meaning (balance)
        setting = slot.spec_for(track.channels).name
        return float(track.effects.get(slot.effect_key, {}).get(setting, math.nan))

    rows = [[value(name, slot) for slot in layout] for name in song.stem_names]
    return torch.tensor(rows, dtype=torch.float32).reshape(len(song.stem_names), len(layout))


def reference_pans(song: Song) -> list[float] | None:
    """Each stem's pan in the reference mix (``nan`` where not set), or ``None`` if unknown."""
    from console.chain import EffectChain

    settings = reference_settings(song, EffectChain.from_spec("pan").layout)
    if settings is None or bool(settings.isnan().all()):
        return None
    return settings[:, 0].tolist()
