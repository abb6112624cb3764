"""``.. console-params:: NAME``: the parameter table of a registered effect.

The table is generated from the effect's ParamSpecs at build time, so the docs
cannot drift from the code.
"""

from __future__ import annotations

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util.docutils import SphinxDirective


class ConsoleParams(SphinxDirective):
    required_arguments = 1
    has_content = False

    def run(self) -> list[nodes.Node]:
        from console.plugins import get_plugins

        component = get_plugins().resolve("effect", self.arguments[0])
        params = getattr(component.factory, "params", ())
        lines = [
            ".. list-table:: Parameters of ``%s`` (from %s)" % (component.name,
                                                                component.distribution),
            "   :header-rows: 1",
            "",
            "   * - name",
            "     - unit",
            "     - range",
            "     - default",
            "     - scale",
            "     - meaning",
        ]
        stereo = getattr(component.factory, "stereo_params", None) or ()
        rows = [(p, p.name) for p in params] + [
            (p, f"{p.name}`` (stereo track, for ``{q.name}``)") for p, q in zip(stereo, params)
        ]
        for p, label in rows:
            lines += [
                f"   * - ``{label}``",
                f"     - {p.unit}",
                f"     - {p.minimum:g} to {p.maximum:g}",
                f"     - {p.default:g}",
                f"     - {p.scale}",
                f"     - {p.description or ' '}",
            ]
        container = nodes.container()
        self.state.nested_parse(StringList(lines, source="console-params"), 0, container)
        return container.children


def setup(app):
    app.add_directive("console-params", ConsoleParams)
    return {"parallel_read_safe": True, "version": "1"}
