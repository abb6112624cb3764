"""The engineer's fader and pan of each stem, where a song folder says what its mix did.

Generated sessions (``console make-sessions``) keep the engineer's settings in
``params.json`` beside ``mix.wav``. Two measured failures make them worth
reading during training:

* A console trained only on the mix learns pans that match the mix's side
  energy, and the engineer's stereo reverb puts side energy under every
  track; so it learns to spread every track, a lead vocal and a snare
  included. Holding each track's distance from the centre to the engineer's
  (``console train --pan-weight``) fixes that.
* A console trained only on the mix keeps every fader within a dB or two of
  equal loudness, although the engineer's rules put kick and hi-hat 9 dB
  apart: the mix loss barely rewards those moves (see the generalisation
  page). Holding each track's level relative to its song's other tracks to
  the engineer's (``console train --level-weight``) teaches them.
"""

from __future__ import annotations

import math

import attrs

from console.data.song import Song
from console.errors import ConsoleError

#: The settings file of a reference mix, beside it in the folder layout.
REFERENCE_PARAMS = "params.json"


@attrs.frozen
class ReferenceDecisions:
    """Each stem's fader (dB) and pan in the reference mix, in the song's stem order.

    ``nan`` where the file does not set it.
    """

    gains_db: list[float]
    pans: list[float]


def reference_decisions(song: Song) -> ReferenceDecisions | None:
    """The reference mix's faders and pans, or ``None`` if the song folder does not say.

    Known when the song's folder holds a readable ``params.json`` whose chain
    has a gain or a pan; a stem the file does not name gets ``nan``.
    """
    from console.mix_params import MixParams  # it imports console.data: not at module level

    path = song.mix.parent / REFERENCE_PARAMS
    if not path.is_file():
        return None
    try:
        params = MixParams.load(path)
    except ConsoleError:
        return None
    gains = {t.name: t.effects["gain"]["gain_db"] for t in params.tracks
             if "gain_db" in t.effects.get("gain", {})}
    pans = {t.name: t.effects["pan"]["pan"] for t in params.tracks
            if "pan" in t.effects.get("pan", {})}
    if not gains and not pans:
        return None
    return ReferenceDecisions(
        [float(gains.get(name, math.nan)) for name in song.stem_names],
        [float(pans.get(name, math.nan)) for name in song.stem_names],
    )


def reference_pans(song: Song) -> list[float] | None:
    """Each stem's pan in the reference mix (``nan`` where not set), or ``None`` if unknown."""
    decisions = reference_decisions(song)
    if decisions is None or all(math.isnan(p) for p in decisions.pans):
        return None
    return decisions.pans
