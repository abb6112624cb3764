"""``console plot``: draw an effect's response for given settings into a PNG.

The effect comes from the registry, so a plugin's effect plots as soon as it
defines the methods :mod:`console.plotting` looks for.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

import torch

from console.audio import check_sample_rate
from console.errors import ConsoleError
from console.mix_params import FORMAT, MixParams, chain_keys
from console.output_paths import (
    OutputPathError,
    check_output_file,
    check_replace,
    refuse_inputs,
    write_file,
)
from console.plotting import plot_effect, plot_methods
from console.plugins import get_plugins
from console.spec import parse_spec

DEFAULT_SAMPLE_RATE = 44100


class PlotSettingsError(ConsoleError, ValueError):
    """``--params`` that cannot be read or do not fit the effect."""


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "plot",
        help="plot an effect's response (EQ curve, compressor curve, reverb decay) to a PNG",
        description="Draw what an effect does with the given settings: the EQ's magnitude "
        "response, the compressor's static curve and gain trace, the reverb's energy decay. "
        "Needs matplotlib (pip install 'console[plot]').",
    )
    parser.add_argument(
        "effect",
        help="effect to plot, e.g. eq, comp, reverb (or a chain key such as eq.2 with a "
        "params.json)",
    )
    parser.add_argument(
        "--params",
        default="{}",
        help="the effect's settings: a JSON object such as '{\"band1_gain_db\": 6}' (missing "
        "ones take their defaults), a file holding one, or a params.json from `console mix` "
        "together with --track",
    )
    parser.add_argument("--track", help="track whose settings to take from a params.json")
    parser.add_argument(
        "--effect", dest="effect_name", metavar="SPEC_NAME",
        help="registry name to build instead, e.g. eq:dsp (default: the chain's variant, or "
        "the family's default)",
    )
    parser.add_argument(
        "--sample-rate", type=int,
        help=f"sample rate in Hz (default: the params.json's, else {DEFAULT_SAMPLE_RATE})",
    )
    parser.add_argument("-o", "--output", type=Path, required=True, help="PNG file to write")
    parser.add_argument(
        "--force", action="store_true",
        help="replace -o even if console did not write it or it changed since",
    )
    parser.set_defaults(func=run)


def _read_settings_source(text: str) -> tuple[dict[str, Any], str]:
    """The JSON object given inline or in a file, and a label for messages."""
    if text.lstrip().startswith("{"):
        source, raw = "--params", text
    else:
        path = Path(text)
        try:
            raw = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise PlotSettingsError(
                f"--params {text!r} is neither a JSON object nor a readable file "
                f"({exc.strerror or exc})."
            ) from exc
        source = str(path)
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise PlotSettingsError(f"{source} is not valid JSON: {exc}.") from exc
    if not isinstance(data, dict):
        raise PlotSettingsError(
            f"{source} must be a JSON object of parameter values, e.g. '{{\"gain_db\": 3}}'."
        )
    return data, source


def _settings_from_mix(
    mix: MixParams, effect: str, track: str | None, source: str
) -> tuple[dict[str, Any], str]:
    """One track's values for ``effect`` from a params.json, and the variant that made them."""
    if track is None:
        if len(mix.tracks) != 1:
            raise PlotSettingsError(
                f"{source} holds {len(mix.tracks)} tracks; choose one with --track "
                f"(one of: {', '.join(mix.track_names)})."
            )
        track = mix.track_names[0]
    chosen = next((t for t in mix.tracks if t.name == track), None)
    if chosen is None:
        raise PlotSettingsError(
            f"{source} has no track {track!r}; its tracks are: {', '.join(mix.track_names)}."
        )
    items = [str(item) for item in parse_spec(mix.spec)]
    keys = chain_keys(items)
    family = effect.split(":", 1)[0]
    index = keys.index(effect) if effect in keys else next(
        (i for i, key in enumerate(keys) if key.split(".", 1)[0] == family), None
    )
    if index is None:
        raise PlotSettingsError(
            f"The chain {mix.spec!r} in {source} has no {effect!r}; plot one of: "
            f"{', '.join(keys)}."
        )
    return chosen.effects.get(keys[index], {}), items[index]


def settings_tensor(effect: Any, values: dict[str, Any], source: str) -> torch.Tensor:
    """``(1, P)`` physical parameters: the given values, checked, else the defaults."""
    specs = {spec.name: spec for spec in effect.params}
    unknown = sorted(set(values) - set(specs))
    if unknown:
        raise PlotSettingsError(
            f"{source} names parameters {unknown} that {effect.name!r} does not have; "
            f"its parameters are: {', '.join(specs)}."
        )
    row = []
    for name, spec in specs.items():
        value = values.get(name, spec.default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(
            value
        ):
            raise PlotSettingsError(f"{source}: {name} must be a finite number, got {value!r}.")
        if not spec.contains(float(value)):
            raise PlotSettingsError(
                f"{source}: {name} = {value} is outside its range {spec.describe()}."
            )
        row.append(float(value))
    return torch.tensor([row], dtype=torch.float32)


def _plottable_variant(component: Any, effect: Any) -> tuple[Any, Any]:
    """For a bare family whose default draws nothing (a neural emulator), a variant that does.

    Variants of one family share their settings, so the drawing describes what
    those settings ask for; a note says which variant was drawn.
    """
    registry = get_plugins().registry("effect")
    for name in sorted(registry):
        other = registry[name]
        if other.family == component.family and other.name != component.name:
            candidate = other.create()
            if plot_methods(candidate):
                print(
                    f"console plot: {component.name} has nothing to plot; drawing "
                    f"{other.name}, which takes the same settings",
                    file=sys.stderr,
                )
                return other, candidate
    return component, effect


def check_output(args: argparse.Namespace) -> None:
    """Before any work: a new or replaceable .png that is not the --params file."""
    output = args.output
    if output.suffix.lower() != ".png":
        raise OutputPathError(
            f"console plot writes PNG images; give -o a name ending in .png, not {output}."
        )
    check_output_file(output, "plot")
    if not args.params.lstrip().startswith("{"):
        refuse_inputs(output, [Path(args.params)], what="plot")
    check_replace(output, force=args.force, what="plot")


def run(args: argparse.Namespace) -> int:
    if args.sample_rate is not None:  # 0 once drew at 44100 Hz, 10^9 filled the memory
        check_sample_rate(args.sample_rate, "--sample-rate")
    check_output(args)
    data, source = _read_settings_source(args.params)
    name = args.effect
    sample_rate = args.sample_rate
    if data.get("format") == FORMAT:
        mix = MixParams.from_json(json.dumps(data), source=source)
        values, chain_item = _settings_from_mix(mix, args.effect, args.track, source)
        name = chain_item
        sample_rate = sample_rate or mix.sample_rate
    else:
        if args.track is not None:
            raise PlotSettingsError(
                f"--track needs a params.json written by `console mix`; {source} is a plain "
                f"object of parameter values."
            )
        values = data
    name = args.effect_name or name
    item = parse_spec(name)[0] if "+" not in name else None
    if item is None:
        raise PlotSettingsError(f"Plot one effect at a time, not the chain {name!r}.")
    component = get_plugins().resolve("effect", item.name)
    effect = component.create(item.arg)
    if ":" not in item.name and item.arg is None and not plot_methods(effect):
        component, effect = _plottable_variant(component, effect)
    params = settings_tensor(effect, values, source)
    sample_rate = sample_rate or DEFAULT_SAMPLE_RATE
    drawn: list[str] = []
    title = f"{component.name} at {sample_rate} Hz"
    write_file(args.output, lambda tmp: drawn.extend(plot_effect(effect, params, sample_rate, tmp,
                                                                 title=title)),
               force=args.force, what="plot", by="console plot")
    print(f"wrote {args.output} ({', '.join(drawn)})")
    return 0
