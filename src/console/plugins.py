"""The one place that knows the plugin manager.

Plugins are found through the ``console`` entry-point group, the built-in
packages included, so core never imports ``console_effects`` or
``console_encoders`` by name. Setting ``CONSOLE_DISABLE_PLUGIN_AUTOLOAD=1``
loads only the entry points of the ``console`` distribution itself.
"""

from __future__ import annotations

import difflib
import importlib.metadata
import os
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Literal

import attrs
import pluggy

from console import hookspecs
from console.errors import PluginConflictError, PluginWarning, UnknownComponentError

ENTRY_POINT_GROUP = "console"
AUTOLOAD_ENV = "CONSOLE_DISABLE_PLUGIN_AUTOLOAD"
OWN_DISTRIBUTION = "console"

#: What a plugin may raise, at import or while registering, without taking the others down:
#: ``sys.exit`` or a stray ``KeyboardInterrupt`` in a plugin is its failure, not the user's wish.
ISOLATED = (Exception, SystemExit, KeyboardInterrupt)

Kind = Literal["effect", "encoder", "loss", "mixer"]
KINDS: tuple[Kind, ...] = ("effect", "encoder", "loss", "mixer")
_HOOKS: dict[Kind, str] = {
    "effect": "register_effects",
    "encoder": "register_encoders",
    "loss": "register_losses",
    "mixer": "register_mixers",
}


@attrs.frozen
class Component:
    """A registered effect, encoder or loss and who provided it."""

    kind: Kind
    name: str
    factory: Callable[..., Any]
    plugin: str
    distribution: str
    default: bool = False

    @property
    def family(self) -> str:
        return self.name.split(":", 1)[0]

    def create(self, arg: str | None = None, **options: Any) -> Any:
        """Instantiate; ``arg`` is the text after ``@`` in a spec item."""
        return self.factory(arg, **options) if arg is not None else self.factory(**options)


#: A kind's registry and the conflicts found while building it.
_Collected = tuple[dict[str, Component], list[PluginConflictError]]


class Plugins:
    """Wraps a :class:`pluggy.PluginManager` and the registries built from it."""

    def __init__(self, autoload: bool = True) -> None:
        self.manager = pluggy.PluginManager(ENTRY_POINT_GROUP)
        self.manager.add_hookspecs(hookspecs)
        self._distributions: dict[str, str] = {}
        self._registries: dict[Kind, _Collected] | None = None
        if autoload:
            self.load_entry_points()

    # -- loading -----------------------------------------------------------------

    def load_entry_points(self) -> None:
        """Register every plugin in the entry-point group; warn about and skip broken ones."""
        third_party = os.environ.get(AUTOLOAD_ENV, "").strip().lower() not in ("1", "true", "yes")
        for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            dist = ep.dist.name if ep.dist is not None else "unknown"
            if not third_party and dist != OWN_DISTRIBUTION:
                continue
            plugin_name = f"{dist}:{ep.name}"
            if self.manager.has_plugin(plugin_name):
                continue
            try:
                plugin = ep.load()
            except ISOLATED as exc:  # a broken plugin must not take the others down
                warnings.warn(
                    f"console plugin {plugin_name!r} ({ep.value}) failed to import and is "
                    f"skipped: {_describe(exc)}",
                    PluginWarning,
                    stacklevel=2,
                )
                continue
            version = ep.dist.version if ep.dist is not None else ""
            self.register(plugin, name=plugin_name, distribution=f"{dist} {version}".strip())

    def register(
        self, plugin: object, name: str | None = None, distribution: str | None = None
    ) -> str | None:
        """Add a plugin object (module, class or instance with ``@hookimpl`` functions).

        Returns its name, or ``None`` (with a warning) if it implements a hook
        that does not exist or with the wrong arguments.
        """
        try:
            plugin_name = self.manager.register(plugin, name=name)
            self.manager.check_pending()
        except pluggy.PluginValidationError as exc:
            if self.manager.is_registered(plugin):
                self.manager.unregister(plugin)
            label = name or getattr(plugin, "__name__", repr(plugin))
            warnings.warn(
                f"console plugin {label!r} is invalid and is skipped: {exc}",
                PluginWarning,
                stacklevel=2,
            )
            return None
        if plugin_name is None:
            return None
        self._distributions[plugin_name] = distribution or "(registered at run time)"
        self._registries = None
        return plugin_name

    def unregister(self, plugin: object) -> None:
        """Remove a plugin registered with :meth:`register`."""
        name = self.manager.get_name(plugin)
        self.manager.unregister(plugin)
        self._distributions.pop(name or "", None)
        self._registries = None

    @contextmanager
    def temporary(self, plugin: object) -> Iterator[str | None]:
        """Register ``plugin`` for the duration of a ``with`` block (handy in tests)."""
        name = self.register(plugin)
        try:
            yield name
        finally:
            if name is not None:
                self.unregister(plugin)

    # -- registries --------------------------------------------------------------

    def registry(self, kind: Kind, strict: bool = True) -> dict[str, Component]:
        """Every registered component of ``kind`` by name.

        A name two plugins claim is an error when ``strict``; otherwise the
        first to register keeps it and :meth:`conflicts` names the others, so
        ``console plugins`` can still list what is installed.
        """
        found, conflicts = self._collected(kind)
        if strict and conflicts:
            raise conflicts[0]
        return found

    def conflicts(self, kind: Kind) -> list[str]:
        """What is wrong with ``kind``'s registry: one sentence per name claimed twice."""
        return [str(error) for error in self._collected(kind)[1]]

    def _collected(self, kind: Kind) -> _Collected:
        if self._registries is None:
            self._registries = {k: self._collect(k) for k in KINDS}
        return self._registries[kind]

    def _collect(self, kind: Kind) -> _Collected:
        found: dict[str, Component] = {}
        conflicts: list[PluginConflictError] = []
        hook = getattr(self.manager.hook, _HOOKS[kind])
        for impl in hook.get_hookimpls():  # in registration order
            plugin_name = impl.plugin_name
            distribution = self._distributions.get(plugin_name, "(unknown)")

            def register(
                factory: Callable[..., Any],
                *,
                name: str | None = None,
                default: bool = False,
                _plugin: str = plugin_name,
                _dist: str = distribution,
            ) -> None:
                comp_name = name or getattr(factory, "name", "")
                if not comp_name:
                    raise ValueError(
                        f"plugin {_plugin!r} registered a {kind} without a name; pass "
                        f"name=... or set a `name` attribute on {factory!r}."
                    )
                if comp_name in found:
                    other = found[comp_name]
                    conflicts.append(PluginConflictError(
                        f"Two plugins register the {kind} {comp_name!r}: {other.plugin!r} "
                        f"({other.distribution}) and {_plugin!r} ({_dist}); uninstall one "
                        f"of them or set {AUTOLOAD_ENV}=1."
                    ))
                    return
                found[comp_name] = Component(kind, comp_name, factory, _plugin, _dist, default)

            try:
                impl.function(register=register)
            except ISOLATED as exc:
                warnings.warn(
                    f"console plugin {plugin_name!r} failed while registering {kind}s and "
                    f"is skipped: {_describe(exc)}",
                    PluginWarning,
                    stacklevel=5,
                )
        conflicts.extend(self._default_conflicts(kind, found))
        return found, conflicts

    @staticmethod
    def _default_conflicts(kind: Kind, found: dict[str, Component]) -> list[PluginConflictError]:
        defaults: dict[str, Component] = {}
        conflicts = []
        for comp in found.values():
            if comp.default and ":" in comp.name:
                if comp.family in defaults:
                    other = defaults[comp.family]
                    conflicts.append(PluginConflictError(
                        f"Two plugins make {other.name!r} ({other.plugin}) and {comp.name!r} "
                        f"({comp.plugin}) the default {kind} for {comp.family!r}; uninstall "
                        f"one of them."
                    ))
                    continue
                defaults[comp.family] = comp
        return conflicts

    def resolve(self, kind: Kind, name: str) -> Component:
        """Find a component by exact name, or a bare family name by its default variant."""
        registry = self.registry(kind)
        if name in registry:
            return registry[name]
        variants = [c for c in registry.values() if c.family == name and ":" in c.name]
        chosen = [c for c in variants if c.default] or (variants if len(variants) == 1 else [])
        if chosen:
            return chosen[0]
        if variants:
            names = ", ".join(sorted(c.name for c in variants))
            raise UnknownComponentError(
                f"The {kind} {name!r} has several variants and none is the default; "
                f"name one of: {names}."
            )
        close = difflib.get_close_matches(name, sorted(registry), n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        known = ", ".join(sorted(registry)) or "none"
        raise UnknownComponentError(
            f"No {kind} named {name!r} is installed.{hint} Known {kind}s: {known}. "
            f"Run `console plugins` to list them with their parameters."
        )


def _describe(exc: BaseException) -> str:
    """``"SystemExit: 3"``, or just ``"KeyboardInterrupt"`` when there is no message."""
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


_PLUGINS: Plugins | None = None


def get_plugins() -> Plugins:
    """The process-wide plugin manager, loaded on first use."""
    global _PLUGINS
    if _PLUGINS is None:
        _PLUGINS = Plugins()
    return _PLUGINS


def reset_plugins() -> None:
    """Forget the loaded plugins so the next :func:`get_plugins` loads them afresh."""
    global _PLUGINS
    _PLUGINS = None
