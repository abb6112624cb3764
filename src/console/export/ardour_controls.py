"""Ardour's own mixer-strip controls: the ranges of trim and fader, and its panner laws.

These are facts about Ardour 7 (``libs/panners``, ``rc_configuration_vars.h``),
not about any effect, so they live in core. The panners do not use a sine/cosine
law: Ardour's equal-power panner is a quadratic approximation with -3 dB at the
centre, and its balance panner keeps the louder side at unity. Given the gains
an effect wants, :func:`mono_panner` and :func:`balance_panner` find the Ardour
position with the same left/right ratio and report the level left over, which
the exporter puts on the track's level stage, so the result is exact.
"""

from __future__ import annotations

import math

import attrs

#: The highest fader gain Ardour allows (its ``max-gain`` preference, 2.0 = +6.02 dB).
FADER_MAX_DB = 20.0 * math.log10(2.0)
#: Ardour's trim knob spans +-20 dB.
TRIM_RANGE_DB = 20.0
#: Panner plugins (their URIs in the session file).
PANNER_1IN2OUT = "http://ardour.org/plugin/panner_1in2out"
PANNER_BALANCE = "http://ardour.org/plugin/panner_balance"
#: The constant of Ardour's equal-power panner (-3 dB at the centre), as Ardour writes it.
_PAN_SCALE = -0.831783138


@attrs.frozen
class LevelStage:
    """Trim and fader of one Ardour track or bus, in dB, and what did not fit."""

    trim_db: float
    fader_db: float
    wanted_db: float

    @property
    def total_db(self) -> float:
        return self.trim_db + self.fader_db

    @property
    def held(self) -> bool:
        """True when ``wanted_db`` was outside what trim and fader can reach together."""
        return abs(self.total_db - self.wanted_db) > 1e-9


def level_stage(gain_db: float) -> LevelStage:
    """Put ``gain_db`` on the fader, and on the trim what the fader cannot reach.

    Both act before any plugin, so the split changes nothing; together they reach
    -inf to +26 dB.
    """
    fader = min(gain_db, FADER_MAX_DB)
    trim = max(min(gain_db - fader, TRIM_RANGE_DB), -TRIM_RANGE_DB)
    return LevelStage(trim_db=trim, fader_db=fader, wanted_db=gain_db)


def db_to_gain(gain_db: float) -> float:
    return 10.0 ** (gain_db / 20.0)


def equal_power_gains(azimuth: float) -> tuple[float, float]:
    """Left and right gains of Ardour's 1-in/2-out panner at ``azimuth`` (0 left, 1 right)."""
    right = azimuth
    left = 1.0 - azimuth
    return (left * (_PAN_SCALE * left + 1.0 - _PAN_SCALE),
            right * (_PAN_SCALE * right + 1.0 - _PAN_SCALE))


def balance_gains(azimuth: float) -> tuple[float, float]:
    """Left and right gains of Ardour's stereo balance panner at ``azimuth``."""
    if azimuth > 0.5:
        return 2.0 - 2.0 * azimuth, 1.0
    return 1.0, 2.0 * azimuth


@attrs.frozen
class PannerSetting:
    """An Ardour panner, its position, and the level (dB) the fader adds to match."""

    uri: str
    azimuth: float
    correction_db: float


def _ratio_position(left: float, right: float, law) -> float:  # noqa: ANN001 - a gains law
    """The azimuth in [0, 1] where ``law`` has the ratio ``left : right`` (by bisection)."""
    low, high = 0.0, 1.0
    for _ in range(60):  # right/(left+right) grows with the azimuth for both laws
        middle = 0.5 * (low + high)
        law_left, law_right = law(middle)
        if law_right * left < right * law_left:
            low = middle
        else:
            high = middle
    return 0.5 * (low + high)


def _setting(uri: str, left: float, right: float, law) -> PannerSetting:  # noqa: ANN001
    if left < 0 or right < 0 or left + right <= 0:
        raise ValueError(f"panner gains must be non-negative and not both zero: {left}, {right}")
    azimuth = _ratio_position(left, right, law)
    law_left, law_right = law(azimuth)
    wanted, got = math.hypot(left, right), math.hypot(law_left, law_right)
    return PannerSetting(uri, azimuth, 20.0 * math.log10(wanted / got))


def mono_panner(left: float, right: float) -> PannerSetting:
    """Ardour's equal-power panner for a mono track with these left/right gains."""
    return _setting(PANNER_1IN2OUT, left, right, equal_power_gains)


def balance_panner(left: float, right: float) -> PannerSetting:
    """Ardour's balance panner for a stereo track whose sides get these gains."""
    return _setting(PANNER_BALANCE, left, right, balance_gains)
