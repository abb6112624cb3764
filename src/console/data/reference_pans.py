"""The engineer's pan of each stem, where a song folder says what its reference mix did.

Generated sessions (``console make-sessions``) keep the engineer's settings in
``params.json`` beside ``mix.wav``. A console trained only on the mix learns
pans that match the mix's side energy, and the engineer's stereo reverb puts
side energy under every track; so it learns to spread every track, a lead
vocal and a snare included. Where the engineer's pans are known, training
can also hold each track's distance from the centre to the engineer's
(``console train --pan-weight``).
"""

from __future__ import annotations

import math

from console.data.song import Song
from console.errors import ConsoleError

#: The settings file of a reference mix, beside it in the folder layout.
REFERENCE_PARAMS = "params.json"


def reference_pans(song: Song) -> list[float] | None:
    """Each stem's pan in the reference mix (``nan`` where not set), or ``None`` if unknown.

    Known when the song's folder holds a readable ``params.json`` whose chain
    has a pan; a stem the file does not name gets ``nan``.
    """
    from console.mix_params import MixParams  # it imports console.data: not at module level

    path = song.mix.parent / REFERENCE_PARAMS
    if not path.is_file():
        return None
    try:
        params = MixParams.load(path)
    except ConsoleError:
        return None
    pans = {
        track.name: track.effects["pan"]["pan"]
        for track in params.tracks
        if "pan" in track.effects.get("pan", {})
    }
    if not pans:
        return None
    return [float(pans.get(name, math.nan)) for name in song.stem_names]
