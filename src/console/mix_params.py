"""A mix's decisions in physical units, as a JSON file a user can read and edit.

The layout of the parameter tensor ``(B, K, P)`` comes from the chain's
:class:`~console.params.ParamSpec` declarations; this module converts between
that tensor and :class:`MixParams`, and is the one place that reads and
writes ``params.json``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs
import cattrs
import cattrs.gen
import torch

from console.atomic import atomic_write_text
from console.audio import (
    MAX_SAMPLE_RATE,
    MIN_SAMPLE_RATE,
    AudioInfo,
    list_audio_files,
    sample_rate_problem,
)
from console.effect import Effect
from console.errors import AudioInputError, ConsoleError
from console.master import MasterSettings
from console.numbers import is_finite_number
from console.params import ParamSpec
from console.stereo import check_channel_count

FORMAT = "console-mix-params"
#: Version 2: effect names as registered since the grey-box emulators took their own names
#: (``eq:greybox``; ``eq:tcn`` is a TCN). A version-1 file's names are read as they meant then.
FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)


class MixParamsError(ConsoleError, ValueError):
    """A ``params.json`` that is malformed or does not fit the console's chain."""


@attrs.frozen
class ParamSlot:
    """Column ``index`` of the parameter tensor: which effect and which parameter.

    ``stereo_spec`` is what the column means on a stereo track when the effect
    says it means something else there (``pan`` balances a stereo track).
    """

    effect_key: str
    spec: ParamSpec
    index: int
    stereo_spec: ParamSpec | None = None

    def spec_for(self, channels: int) -> ParamSpec:
        """The column's meaning on a track of ``channels``."""
        return self.stereo_spec if channels == 2 and self.stereo_spec is not None else self.spec


def chain_keys(items: Sequence[str]) -> list[str]:
    """JSON keys of the effects in a chain: the family name, numbered when repeated."""
    keys: list[str] = []
    for item in items:
        base = item.split("@", 1)[0].split(":", 1)[0]
        key, n = base, 2
        while key in keys:
            key, n = f"{base}.{n}", n + 1
        keys.append(key)
    return keys


def param_layout(items: Sequence[str], effects: Sequence[Effect]) -> list[ParamSlot]:
    """Every column of the chain's parameter tensor, in order."""
    slots: list[ParamSlot] = []
    for key, effect in zip(chain_keys(items), effects, strict=True):
        stereo = effect.stereo_params or (None,) * len(effect.params)
        if len(stereo) != len(effect.params):
            raise ValueError(
                f"{effect.name}: stereo_params must give one spec per parameter "
                f"({len(effect.params)}), got {len(stereo)}."
            )
        for spec, stereo_spec in zip(effect.params, stereo, strict=True):
            slots.append(ParamSlot(key, spec, len(slots), stereo_spec))
    return slots


def _shown(value: Any) -> str:
    """A value as it reads in the JSON file (``"3"``, ``true``, ``NaN``), cut short when long
    (a number of 400 digits)."""
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 40 else f"{text[:30]}... ({len(text)} characters)"


def _check_name(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    if not isinstance(value, str):
        raise MixParamsError(f"Every track needs a name (a string), got {_shown(value)}.")


def _check_values(instance: TrackParams, attribute: attrs.Attribute, value: Any) -> None:
    """Every setting a finite number: ``"3"``, ``true`` or ``NaN`` would mix silent garbage."""
    track = f"Track {instance.name!r}"
    if not isinstance(value, dict):
        raise MixParamsError(f"{track}: effects must map effect names to their settings.")
    for key, settings in value.items():
        if not isinstance(settings, dict):
            raise MixParamsError(
                f"{track}: effect {key!r} must map parameter names to numbers, got "
                f"{_shown(settings)}."
            )
        for name, number in settings.items():
            if not is_finite_number(number):
                raise MixParamsError(
                    f"{track}: {key}.{name} must be a finite number, got {_shown(number)}; "
                    f"write it without quotes, e.g. -6.0."
                )


class _RepeatedKey(ValueError):
    """A JSON object naming a key twice (``json`` would keep the last value silently)."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise _RepeatedKey(key)
        found[key] = value
    return found


def _check_sample_rate(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or sample_rate_problem(value):
        raise MixParamsError(
            f"sample_rate must be a whole number of Hz from {MIN_SAMPLE_RATE} to "
            f"{MAX_SAMPLE_RATE} (e.g. 44100), got {_shown(value)}."
        )


def _check_tracks(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    """Each track once: a name listed twice would mix its stem twice."""
    names = [getattr(track, "name", None) for track in value]
    twice = sorted({name for name in names if names.count(name) > 1}, key=str)
    if twice:
        raise MixParamsError(
            f"the tracks {twice} are listed more than once; keep one entry per stem."
        )


def _check_spec(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    if not isinstance(value, str) or not value:
        raise MixParamsError(
            f"spec must name the effect chain (e.g. \"gain+pan\"), got {_shown(value)}."
        )


def _check_channels(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    if isinstance(value, bool) or value not in (1, 2):
        raise MixParamsError(
            f"Track {instance.name!r}: channels must be 1 (mono) or 2 (stereo), got "
            f"{_shown(value)}."
        )


@attrs.frozen
class TrackParams:
    """One track's settings: ``effects[effect_key][param_name] = value``.

    ``channels`` is 2 for a stereo track (its ``pan`` is then a ``balance``); the
    file leaves it out for mono tracks.
    """

    name: str = attrs.field(validator=_check_name)
    effects: dict[str, dict[str, float]] = attrs.field(validator=_check_values)
    channels: int = attrs.field(default=1, validator=_check_channels)


@attrs.frozen
class MixParams:
    """Every decision of one mix, editable and re-renderable."""

    spec: str = attrs.field(validator=_check_spec)
    sample_rate: int = attrs.field(validator=_check_sample_rate)
    tracks: list[TrackParams] = attrs.field(validator=_check_tracks)
    #: The master stage applied to the sum; files that predate it have none, and
    #: ``console render`` then applies its default stage (its options can turn it off).
    master: MasterSettings | None = None
    format: str = FORMAT
    version: int = FORMAT_VERSION

    @classmethod
    def from_tensor(
        cls,
        params: torch.Tensor,
        layout: Sequence[ParamSlot],
        track_names: Sequence[str],
        spec: str,
        sample_rate: int,
        channels: Sequence[int] | None = None,
    ) -> MixParams:
        """Build from one song's ``(K, P)`` physical parameters (``channels``: 1 or 2 a track)."""
        if params.dim() != 2 or params.shape != (len(track_names), len(layout)):
            raise ValueError(
                f"Expected parameters of shape (K={len(track_names)}, P={len(layout)}), "
                f"got {tuple(params.shape)}."
            )
        values = params.detach().cpu().double().tolist()
        channels = list(channels) if channels is not None else [1] * len(track_names)
        tracks = []
        for name, row, count in zip(track_names, values, channels, strict=True):
            effects: dict[str, dict[str, float]] = {}
            for slot in layout:
                name_in_file = slot.spec_for(count).name
                effects.setdefault(slot.effect_key, {})[name_in_file] = round(row[slot.index], 6)
            tracks.append(TrackParams(name, effects, int(count)))
        return cls(spec=spec, sample_rate=int(sample_rate), tracks=tracks)

    def to_tensor(self, layout: Sequence[ParamSlot]) -> torch.Tensor:
        """``(K, P)`` physical parameters; every value must be present and in range."""
        out = torch.empty(len(self.tracks), len(layout), dtype=torch.float32)
        for k, track in enumerate(self.tracks):
            expected: dict[str, set[str]] = {}
            for slot in layout:
                expected.setdefault(slot.effect_key, set()).add(slot.spec_for(track.channels).name)
            unknown = set(track.effects) - set(expected)
            if unknown:
                raise MixParamsError(
                    f"Track {track.name!r} names effects {sorted(unknown)} that the chain "
                    f"{self.spec!r} does not have; expected {sorted(expected)}."
                )
            for key, names in expected.items():
                given = track.effects.get(key, {})
                extra = set(given) - names
                if extra:
                    raise MixParamsError(
                        f"Track {track.name!r}, effect {key!r}: unknown parameters "
                        f"{sorted(extra)}; expected {sorted(names)}."
                    )
            for slot in layout:
                spec = slot.spec_for(track.channels)
                value = track.effects.get(slot.effect_key, {}).get(spec.name)
                if value is None:
                    raise MixParamsError(
                        f"Track {track.name!r} is missing {slot.effect_key}.{spec.name}; "
                        f"give a value in {spec.describe()}."
                    )
                if not spec.contains(float(value)):
                    raise MixParamsError(
                        f"Track {track.name!r}: {slot.effect_key}.{spec.name} = {value} "
                        f"is outside its range {spec.describe()}."
                    )
                out[k, slot.index] = float(value)
        return out

    @property
    def track_names(self) -> list[str]:
        return [t.name for t in self.tracks]

    @property
    def channels(self) -> list[int]:
        """Each track's channels: 1 mono, 2 stereo."""
        return [t.channels for t in self.tracks]

    def stem_files(self, stems_dir: str | Path, label: str = "the params file") -> list[Path]:
        """The audio files of ``stems_dir`` this mix names, in its order.

        A folder that lacks a named stem, or holds one the mix has no settings for, is
        refused: rendering it would silently mix something else.
        """
        available = {p.name: p for p in list_audio_files(stems_dir)}
        missing = [name for name in self.track_names if name not in available]
        if missing:
            raise AudioInputError(
                f"{label} has settings for {missing} but {stems_dir} has no such files; "
                f"give the folder of the stems that were mixed."
            )
        unused = sorted(set(available) - set(self.track_names))
        if unused:
            raise AudioInputError(
                f"{stems_dir} has stems with no settings in {label}: {unused}; add them to "
                f"the file or move them out of the folder."
            )
        return [available[name] for name in self.track_names]

    def channel_notes(self, infos: Sequence[AudioInfo], label: str = "the params file"
                      ) -> list[str]:
        """Check that each stem can be read as this mix had it (mono or stereo); notes.

        A stereo file mixed as mono (``--mono``, or a file from before stereo tracks) is
        averaged again, and a note says so (so is a file of more channels, which a mix
        from before stereo tracks averaged); a mix calling a mono file stereo is refused
        (a balance needs an image to act on).
        """
        notes = []
        for info, track in zip(infos, self.tracks, strict=True):
            if track.channels == 2:
                check_channel_count(info.path.name, info.channels)
            if track.channels == 2 and info.channels == 1:
                raise AudioInputError(
                    f"{label} mixed {track.name} as a stereo track, but {info.path} has one "
                    f"channel; give the stems that were mixed, or set its \"channels\" to 1 "
                    f"and rename its pan.balance to pan.pan."
                )
            if track.channels == 1 and info.channels > 1:
                notes.append(f"{track.name}: {info.channels} channels averaged to mono, as "
                             f"{label} mixed it (it gives no \"channels\": 2)")
        return notes

    def with_value(self, track: str, effect_key: str, param: str, value: float) -> MixParams:
        """A copy with one value changed (tracks are matched by name)."""
        tracks = []
        for t in self.tracks:
            if t.name == track:
                effects = {k: dict(v) for k, v in t.effects.items()}
                effects.setdefault(effect_key, {})[param] = float(value)
                t = attrs.evolve(t, effects=effects)
            tracks.append(t)
        return attrs.evolve(self, tracks=tracks)

    # -- JSON --------------------------------------------------------------------

    def to_json(self) -> str:
        return json.dumps(_converter.unstructure(self), indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str, source: str = "params.json") -> MixParams:
        try:
            data = json.loads(text, object_pairs_hook=_unique_keys)
        except json.JSONDecodeError as exc:
            raise MixParamsError(f"{source} is not valid JSON: {exc}.") from exc
        except _RepeatedKey as exc:
            raise MixParamsError(
                f"{source} gives {exc.args[0]!r} twice in one object, so one of the two "
                f"values would be ignored without a word; keep only the one you mean."
            ) from exc
        except RecursionError as exc:
            raise MixParamsError(
                f"{source} is not a console mix-parameter file: its JSON nests too deeply to "
                f"read; give the MIX.params.json `console mix` wrote."
            ) from exc
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise MixParamsError(
                f"{source} is not a console mix-parameter file (expected \"format\": "
                f"\"{FORMAT}\"); write one with `console mix ... --params`."
            )
        if type(data.get("version")) is not int or data.get("version") not in READABLE_VERSIONS:
            raise MixParamsError(
                f"{source} has format version {data.get('version')!r}; this console reads "
                f"versions {', '.join(map(str, READABLE_VERSIONS))}."
            )
        if data["version"] < FORMAT_VERSION and isinstance(data.get("spec"), str):
            data = {**data, "spec": _upgraded_spec(data["spec"], source),
                    "version": FORMAT_VERSION}
        try:
            return _converter.structure(data, cls)
        except cattrs.BaseValidationError as exc:
            own = _own_error(exc)
            if own is not None:
                raise MixParamsError(f"{source}: {own}") from exc
            detail = "; ".join(cattrs.transform_error(exc))
            raise MixParamsError(f"{source} has invalid content: {detail}.") from exc
        except (TypeError, ValueError) as exc:
            detail = "; ".join(cattrs.transform_error(exc)) if isinstance(
                exc, cattrs.BaseValidationError
            ) else str(exc)
            raise MixParamsError(f"{source} has invalid content: {detail}.") from exc

    def save(self, path: str | Path) -> None:
        atomic_write_text(Path(path), self.to_json())

    @classmethod
    def load(cls, path: str | Path) -> MixParams:
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8-sig")  # a BOM, as some editors save
        except OSError as exc:
            raise MixParamsError(f"Cannot read the parameter file {path}: {exc.strerror}.") from exc
        except UnicodeDecodeError as exc:
            raise MixParamsError(
                f"{path} is not a console mix-parameter file: byte {exc.start} is not UTF-8 "
                f"text (is it an audio file, or saved in another encoding?); give the "
                f"MIX.params.json `console mix` wrote, saved as UTF-8."
            ) from exc
        return cls.from_json(text, source=str(path))


def _upgraded_spec(spec: str, source: str) -> str:
    """A version-1 file's spec in today's names (``eq:tcn`` then was ``eq:greybox``)."""
    from console.errors import SpecError
    from console.spec import upgrade_spec

    try:
        return upgrade_spec(spec, legacy=True)
    except (SpecError, ConsoleError):  # the chain's own check says what is wrong, later
        return spec


def _own_error(exc: BaseException) -> MixParamsError | None:
    """The first of our validators' errors inside a cattrs error group, if any."""
    if isinstance(exc, MixParamsError):
        return exc
    for inner in getattr(exc, "exceptions", ()):
        found = _own_error(inner)
        if found is not None:
            return found
    return None


_converter = cattrs.Converter(forbid_extra_keys=True)
_track_hook = cattrs.gen.make_dict_unstructure_fn(TrackParams, _converter)
# Mono tracks leave their channel count out, so files without stereo tracks read as before.
_converter.register_unstructure_hook(
    TrackParams,
    lambda track: {k: v for k, v in _track_hook(track).items()
                   if not (k == "channels" and v == 1)},
)
# Values are taken as the JSON gives them, never coerced ("3" -> 3.0, true -> 1):
# the classes' validators say what is wrong and where.
for _type in (float, int, str):
    _converter.register_structure_hook(_type, lambda value, _: value)
