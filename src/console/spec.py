"""The one place that turns a spec string into a chain of effects.

Grammar: items joined by ``+``; each item is ``family[:variant][@argument]``,
for instance ``"gain+eq:dsp+comp+reverb+pan"`` or ``"gain+eq:tcn@my_eq.pt+pan"``.
A bare family selects its default variant.
"""

from __future__ import annotations

import re

import attrs

from console.effect import Effect
from console.errors import SpecError
from console.plugins import Plugins, get_plugins

_ITEM = re.compile(r"^(?P<name>[a-z][a-z0-9_\-]*(?::[a-z0-9_\-]+)?)(?:@(?P<arg>.+))?$")


@attrs.frozen
class SpecItem:
    """One effect in a spec: its registry name and the optional ``@`` argument."""

    name: str
    arg: str | None = None

    def __str__(self) -> str:
        return self.name if self.arg is None else f"{self.name}@{self.arg}"


def parse_spec(spec: str) -> list[SpecItem]:
    """Split a spec string into items; raise :class:`SpecError` on malformed text."""
    if not isinstance(spec, str) or not spec.strip():
        raise SpecError("The effect spec is empty; give effects joined by '+', e.g. 'gain+pan'.")
    items = []
    for raw in spec.split("+"):
        text = raw.strip()
        match = _ITEM.match(text)
        if match is None:
            raise SpecError(
                f"Cannot read {text!r} in the spec {spec!r}: each item is "
                f"'name[:variant][@argument]' in lower case, joined by '+'."
            )
        items.append(SpecItem(match["name"], match["arg"]))
    return items


def resolve_spec(spec: str, plugins: Plugins | None = None) -> str:
    """The resolved spec string (every variant named) without building any effect.

    What :func:`build_chain`'s items join to, for looking a chain up by name.
    """
    plugins = plugins or get_plugins()
    return "+".join(
        str(SpecItem(plugins.resolve("effect", item.name).name, item.arg))
        for item in parse_spec(spec)
    )


def build_chain(spec: str, plugins: Plugins | None = None) -> tuple[list[Effect], list[str]]:
    """Instantiate the effects of ``spec``; returns them and their resolved spec items.

    The resolved items name the variant actually chosen (``"eq"`` becomes
    ``"eq:dsp"`` when that is the default), so a saved console rebuilds the
    same chain even if defaults change later.
    """
    plugins = plugins or get_plugins()
    effects: list[Effect] = []
    resolved: list[str] = []
    channels = 1
    for item in parse_spec(spec):
        component = plugins.resolve("effect", item.name)
        effect = component.create(item.arg)
        if not isinstance(effect, Effect):
            raise SpecError(
                f"The effect {component.name!r} from {component.plugin!r} did not build a "
                f"console.Effect (got {type(effect).__name__}); report this to its authors."
            )
        try:
            channels = effect.output_channels(channels)
        except ValueError as exc:
            raise SpecError(
                f"The effect {component.name!r} cannot follow the effects before it in "
                f"{spec!r}: {exc}"
            ) from exc
        effects.append(effect)
        resolved.append(str(SpecItem(component.name, item.arg)))
    return effects, resolved
