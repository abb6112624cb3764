"""``console plugins``: every installed component, its parameters and who provides it."""

from __future__ import annotations

import argparse
import json
from typing import Any

from console.plugins import KINDS, Component, Kind, get_plugins

PLURALS: dict[Kind, str] = {"effect": "effects", "encoder": "encoders", "loss": "losses",
                            "mixer": "mixers"}


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "plugins",
        help="list installed effects, encoders, losses and mixers",
        description="List every installed effect, encoder, loss and mixer, with parameters "
        "(units and ranges) and the distribution that provides it; report names that two "
        "plugins claim.",
    )
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    parser.set_defaults(func=run)


def describe(component: Component) -> dict[str, Any]:
    """A JSON-ready description of one component."""
    params = getattr(component.factory, "params", ())
    stereo = getattr(component.factory, "stereo_params", None) or ()
    return {
        "kind": component.kind,
        "name": component.name,
        "default_for": component.family if component.default else None,
        "description": getattr(component.factory, "description", ""),
        "distribution": component.distribution,
        "plugin": component.plugin,
        "params": [
            {
                "name": p.name,
                "unit": p.unit,
                "min": p.minimum,
                "max": p.maximum,
                "default": p.default,
                "scale": p.scale,
                "description": p.description,
            }
            for p in params
        ],
        # what the parameters mean on a stereo track, where that differs (pan: balance)
        "stereo_params": [
            {"name": p.name, "for": q.name, "unit": p.unit, "min": p.minimum, "max": p.maximum,
             "default": p.default, "scale": p.scale, "description": p.description}
            for p, q in zip(stereo, params, strict=False)
        ],
    }


def run(args: argparse.Namespace) -> int:
    plugins = get_plugins()
    listing: dict[str, Any] = {
        kind: [describe(c) for _, c in sorted(plugins.registry(kind, strict=False).items())]
        for kind in KINDS
    }
    # a conflict is reported, not raised: this is the command that shows where it comes from
    conflicts = [line for kind in KINDS for line in plugins.conflicts(kind)]
    if args.json:
        print(json.dumps({**listing, "conflicts": conflicts}, indent=2))
        return 0
    for kind in KINDS:
        print(f"{PLURALS[kind]}:")
        if not listing[kind]:
            print("  (none installed)")
        for item in listing[kind]:
            default = f'  [default for "{item["default_for"]}"]' if item["default_for"] else ""
            print(f"  {item['name']}{default}  —  {item['distribution']} ({item['plugin']})")
            if item["description"]:
                print(f"      {item['description']}")
            for p in item["params"]:
                rng = f"[{p['min']:g}, {p['max']:g}] {p['unit']}"
                print(
                    f"      {p['name']:<16} {rng:<24} default {p['default']:g}, {p['scale']}"
                    + (f"  {p['description']}" if p["description"] else "")
                )
            for p in item["stereo_params"]:
                rng = f"[{p['min']:g}, {p['max']:g}] {p['unit']}"
                print(f"      {p['name']:<16} {rng:<24} on a stereo track, for {p['for']}:"
                      f"  {p['description']}")
        print()
    if conflicts:
        print("conflicts:")
        for line in conflicts:
            print(f"  {line}")
    return 0
