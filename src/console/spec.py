"""The one place that turns a spec string into a chain of effects.

Grammar: items joined by ``+``; each item is ``family[:variant][@argument]``,
for instance ``"gain+eq:dsp+comp+reverb+pan"`` or ``"gain+eq:tcn@my_eq.pt+pan"``.
A bare family selects its default variant.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping

import attrs

from console.effect import Effect
from console.errors import SpecError
from console.plugins import Component, Plugins, get_plugins

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


def _accepting(
    plugins: Plugins, component: Component, arg: str | None, keys: Collection[str]
) -> Component:
    """``component``, or the variant of its family that accepts what was stored for it.

    Only a component that refuses it is replaced, and only by the one other
    variant that claims it; otherwise ``component`` stays, and loading it says
    what does not fit.
    """
    def verdict(candidate: Component) -> bool | None:
        accepts = getattr(candidate.factory, "accepts", None)
        return accepts(arg, keys) if callable(accepts) else None

    if verdict(component) is not False:
        return component
    others = [
        c for c in plugins.registry("effect").values()
        if c.family == component.family and c.name != component.name and verdict(c) is True
    ]
    return others[0] if len(others) == 1 else component


def upgrade_spec(
    spec: str,
    state_keys: Mapping[int, Collection[str]] | None = None,
    legacy: bool = False,
    plugins: Plugins | None = None,
) -> str:
    """``spec`` as written by an older console, in the names that mean the same effects now.

    ``state_keys`` maps an item's position to the names of the weights a console
    checkpoint stored for it (``network.…``): an item whose effect does not
    accept them becomes the variant of its family that does (``eq:tcn`` whose
    weights are a grey-box's becomes ``eq:greybox``). An ``@`` argument (an
    emulator checkpoint) is judged the same way. ``legacy``: the file predates
    the renames (a ``params.json`` of format version 1), so a name some effect
    lists in its ``legacy_names`` means that effect. Items that need no change,
    bare families included, are left as written.
    """
    plugins = plugins or get_plugins()
    registry = plugins.registry("effect")
    renamed = {old: c.name for c in registry.values()
               for old in getattr(c.factory, "legacy_names", ())} if legacy else {}
    out = []
    for index, item in enumerate(parse_spec(spec)):
        name = renamed.get(item.name, item.name)
        keys = (state_keys or {}).get(index, ())
        if name in registry and (keys or item.arg is not None):
            name = _accepting(plugins, registry[name], item.arg, keys).name
        out.append(str(SpecItem(name, item.arg)))
    return "+".join(out)


def stored_effect_keys(keys: Collection[str]) -> dict[int, list[str]]:
    """A console checkpoint's weight names (``chain.effects.N.…``) grouped by chain position,
    each relative to its effect: what :func:`upgrade_spec` judges items by."""
    grouped: dict[int, list[str]] = {}
    for key in keys:
        match = re.match(r"chain\.effects\.(\d+)\.(.+)$", key)
        if match:
            grouped.setdefault(int(match[1]), []).append(match[2])
    return grouped


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
        if item.arg is not None:  # a weights file of another variant of the family loads as it
            component = _accepting(plugins, component, item.arg, ())
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
