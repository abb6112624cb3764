"""``console plugins``: every installed component, its parameters and who provides it."""

from __future__ import annotations

import argparse
import json
from typing import Any

from console.plugins import KINDS, Component, get_plugins


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "plugins",
        help="list installed effects, encoders and losses",
        description="List every installed effect, encoder and loss, with parameters "
        "(units and ranges) and the distribution that provides it.",
    )
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    parser.set_defaults(func=run)


def describe(component: Component) -> dict[str, Any]:
    """A JSON-ready description of one component."""
    params = getattr(component.factory, "params", ())
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
    }


def run(args: argparse.Namespace) -> int:
    plugins = get_plugins()
    listing = {
        kind: [describe(c) for _, c in sorted(plugins.registry(kind).items())] for kind in KINDS
    }
    if args.json:
        print(json.dumps(listing, indent=2))
        return 0
    for kind in KINDS:
        print(f"{kind}s:")
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
        print()
    return 0
