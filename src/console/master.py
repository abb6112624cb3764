"""The master stage: bring a finished mix to a listening loudness without ever clipping it.

A console sums its tracks with no regard for the output's level, so a mix can
land anywhere from very quiet to well above full scale. The master stage is
one gain on the whole mix: the gain that reaches ``loudness_lufs`` (integrated
loudness, ITU-R BS.1770, measured with pyloudnorm), lowered where needed so
the sample peak stays at or below ``ceiling_dbfs``. It is a gain, not a
limiter: the mix's dynamics are untouched, and when the ceiling wins the mix
ends quieter than the target, which :class:`MasterReport` says.

The settings are saved in ``params.json``, so ``console render`` masters an
edited mix the same way; either part can be switched off with ``None``.
"""

from __future__ import annotations

import math

import attrs
import torch

from console.data.loudness import loudness_lufs
from console.numbers import is_finite_number

#: Streaming services normalise to about -14 LUFS; -1 dBFS leaves room for lossy encoders.
DEFAULT_LOUDNESS_LUFS = -14.0
DEFAULT_CEILING_DBFS = -1.0


def _optional_finite(low: float, high: float):  # noqa: ANN202 - an attrs validator
    def check(instance: object, attribute: attrs.Attribute, value: float | None) -> None:
        if value is None:
            return
        if not (is_finite_number(value) and low <= value <= high):
            raise ValueError(
                f"master.{attribute.name} must be a finite number in [{low:g}, {high:g}] or "
                f"null (off), got {value!r}."
            )

    return check


@attrs.frozen
class MasterSettings:
    """Target loudness in LUFS and sample-peak ceiling in dBFS; ``None`` switches one off."""

    loudness_lufs: float | None = attrs.field(
        default=DEFAULT_LOUDNESS_LUFS, validator=_optional_finite(-70.0, 0.0)
    )
    ceiling_dbfs: float | None = attrs.field(
        default=DEFAULT_CEILING_DBFS, validator=_optional_finite(-60.0, 0.0)
    )

    @classmethod
    def off(cls) -> MasterSettings:
        return cls(loudness_lufs=None, ceiling_dbfs=None)

    @property
    def enabled(self) -> bool:
        return self.loudness_lufs is not None or self.ceiling_dbfs is not None


@attrs.frozen
class MasterReport:
    """What the stage measured and did, in the units a listener reads."""

    input_lufs: float
    input_peak_dbfs: float
    gain_db: float
    output_lufs: float
    output_peak_dbfs: float
    ceiling_limited: bool
    settings: MasterSettings

    def describe(self) -> str:
        """One line for the CLI: from where to where, and whether the ceiling decided."""
        if not self.settings.enabled:
            return (
                f"master stage off: mix at {_fmt_lufs(self.output_lufs)}, peak "
                f"{_fmt_db(self.output_peak_dbfs)} dBFS"
            )
        text = (
            f"master: {_fmt_lufs(self.input_lufs)} → {_fmt_lufs(self.output_lufs)} "
            f"({self.gain_db:+.1f} dB), peak {_fmt_db(self.output_peak_dbfs)} dBFS"
        )
        if self.ceiling_limited and self.settings.loudness_lufs is not None:
            text += (
                f"; the {self.settings.ceiling_dbfs:g} dBFS ceiling kept it below the "
                f"{self.settings.loudness_lufs:g} LUFS target"
            )
        return text


def _fmt_db(value: float) -> str:
    return f"{value:.1f}" if math.isfinite(value) else "-inf"


def _fmt_lufs(value: float) -> str:
    return f"{value:.1f} LUFS" if math.isfinite(value) else "silence"


def peak_dbfs(audio: torch.Tensor) -> float:
    """Sample peak of ``audio`` in dBFS (``-inf`` for digital silence)."""
    peak = float(audio.detach().abs().max()) if audio.numel() else 0.0
    return 20.0 * math.log10(peak) if peak > 0 else -math.inf


def master_gain(
    input_lufs: float, input_peak_dbfs: float, settings: MasterSettings
) -> tuple[float, bool]:
    """The stage's gain in dB for a mix measured at ``input_lufs`` and ``input_peak_dbfs``,
    and whether the ceiling (rather than the loudness target) set it."""
    gain_db = 0.0
    if settings.loudness_lufs is not None and math.isfinite(input_lufs):
        gain_db = settings.loudness_lufs - input_lufs
    limited = False
    if settings.ceiling_dbfs is not None and math.isfinite(input_peak_dbfs):
        headroom = settings.ceiling_dbfs - input_peak_dbfs
        if gain_db > headroom:
            gain_db, limited = headroom, True
    return gain_db, limited


def apply_gain(audio: torch.Tensor, gain_db: float, settings: MasterSettings) -> torch.Tensor:
    """``audio`` times the stage's gain, held at the ceiling (blocks of a mix one by one)."""
    out = audio * float(10.0 ** (gain_db / 20.0))
    if settings.ceiling_dbfs is not None:
        # Guard against float rounding pushing the peak a hair above the ceiling.
        bound = float(10.0 ** (settings.ceiling_dbfs / 20.0))
        out = out.clamp(-bound, bound)
    return out


def master(
    mix: torch.Tensor, sample_rate: int, settings: MasterSettings | None = None
) -> tuple[torch.Tensor, MasterReport]:
    """Apply the master stage to a ``(C, T)`` mix; returns the new mix and what was done.

    :func:`console.streaming.write_mix` does the same to a mix given block by block.
    """
    settings = settings if settings is not None else MasterSettings()
    if not bool(torch.isfinite(mix).all()):
        raise ValueError("The mix contains NaN or infinite samples; it cannot be mastered.")
    input_lufs = loudness_lufs(mix, sample_rate)
    input_peak = peak_dbfs(mix)
    gain_db, limited = master_gain(input_lufs, input_peak, settings)
    out = apply_gain(mix, gain_db, settings)
    return out, master_report(input_lufs, input_peak, gain_db, limited, peak_dbfs(out), settings)


def master_report(
    input_lufs: float, input_peak_dbfs: float, gain_db: float, limited: bool,
    output_peak_dbfs: float, settings: MasterSettings,
) -> MasterReport:
    return MasterReport(
        input_lufs=input_lufs,
        input_peak_dbfs=input_peak_dbfs,
        gain_db=gain_db,
        output_lufs=input_lufs + gain_db if math.isfinite(input_lufs) else input_lufs,
        output_peak_dbfs=output_peak_dbfs,
        ceiling_limited=limited,
        settings=settings,
    )
