"""The package layout the design asks for: core names no built-in plugin, no import circles."""

from __future__ import annotations

import ast
from pathlib import Path

import console.tracks

SRC = Path(__file__).resolve().parents[1] / "src"
PLUGIN_PACKAGES = ("console_effects", "console_encoders", "console_baselines")


def imports_of(path: Path, package: str) -> set[str]:
    """Every module ``path`` imports, at the top or inside a function, relative ones resolved."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def modules(package: str) -> dict[str, Path]:
    root = SRC / package
    return {
        ".".join(path.relative_to(SRC).with_suffix("").parts): path
        for path in root.rglob("*.py")
    }


def test_core_never_imports_a_built_in_plugin():
    offenders = {
        name: sorted(
            m for m in imports_of(path, name.rpartition(".")[0])
            if m.split(".")[0] in PLUGIN_PACKAGES
        )
        for name, path in modules("console").items()
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_built_in_effects_import_each_other_without_a_circle():
    own = modules("console_effects")
    graph = {
        name: {m for m in imports_of(path, name.rpartition(".")[0]) if m in own and m != name}
        for name, path in own.items()
    }

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for nxt in graph[start]:
            if nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})):
                return True
        return False

    circles = sorted(name for name in graph if reaches(name, name, {name}))
    assert circles == []


def test_track_helpers_live_in_their_own_module():
    tree = ast.parse((SRC / "console" / "console.py").read_text(encoding="utf-8"))
    defined = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    assert not defined & {"check_stems", "valid_rows", "masked_mean"}
    for helper in (console.tracks.check_stems, console.tracks.valid_rows,
                   console.tracks.masked_mean):
        assert helper.__module__ == "console.tracks"
