"""The plugin manager: built-ins through entry points, conflicts, broken plugins, lookups."""

import importlib.metadata
import json
import sys
import types
import warnings

import pytest
import torch

import console.plugins as plugins_module
from console import (
    Console,
    Effect,
    ParamSpec,
    PluginConflictError,
    PluginWarning,
    UnknownComponentError,
    hookimpl,
)
from console.plugins import Plugins
from tests.conftest import TINY_VGGISH


class Invert(Effect):
    name = "invert"
    description = "Polarity inversion scaled by an amount."
    params = (ParamSpec("amount", "ratio", 0.0, 1.0, 1.0),)

    def process(self, x, params, sample_rate):
        return x * (1 - 2 * self.unpack(params)["amount"])


class InvertPlugin:
    @hookimpl
    def register_effects(self, register):
        register(Invert)


def test_builtins_are_registered_through_the_entry_point_group():
    plugins = Plugins()
    effects = plugins.registry("effect")
    assert {"gain", "pan"} <= set(effects)
    assert "vggish" in plugins.registry("encoder")
    assert "stereo" in plugins.registry("loss")
    assert effects["gain"].distribution.startswith("console ")
    assert effects["gain"].plugin == "console:effects"
    # core loaded them without importing the built-in packages by name
    eps = {ep.value for ep in importlib.metadata.entry_points(group="console")}
    assert {"console_effects.plugin", "console_encoders.plugin"} <= eps


def test_a_plugin_registered_at_run_time_joins_the_chain():
    plugins = Plugins()
    with plugins.temporary(InvertPlugin()):
        console = Console.from_spec(
            "gain+invert+pan", encoder="vggish", encoder_options=TINY_VGGISH, hidden=16,
            plugins=plugins,
        )
        assert [slot.spec.name for slot in console.layout] == ["gain_db", "amount", "pan"]
        out = console(torch.randn(1, 2, 16000), sample_rate=16000)
        assert out.mix.shape == (1, 2, 16000)
    with pytest.raises(UnknownComponentError):
        plugins.resolve("effect", "invert")


def test_two_plugins_claiming_one_name_name_both():
    class Other:
        @hookimpl
        def register_effects(self, register):
            register(Invert)

    plugins = Plugins()
    plugins.register(InvertPlugin(), name="first-plugin")
    plugins.register(Other(), name="second-plugin")
    with pytest.raises(PluginConflictError) as info:
        plugins.registry("effect")
    assert "first-plugin" in str(info.value) and "second-plugin" in str(info.value)


def test_a_plugin_may_not_shadow_a_builtin():
    class Shadow:
        @hookimpl
        def register_effects(self, register):
            register(Invert, name="gain")

    plugins = Plugins()
    plugins.register(Shadow(), name="shadow")
    with pytest.raises(PluginConflictError, match="console:effects"):
        plugins.registry("effect")


def test_unknown_names_suggest_close_ones_and_how_to_list():
    plugins = Plugins()
    with pytest.raises(UnknownComponentError) as info:
        plugins.resolve("effect", "gian")
    message = str(info.value)
    assert "'gain'" in message and "console plugins" in message and "pan" in message


def test_a_broken_plugin_warns_once_and_the_rest_keep_working(monkeypatch):
    real = list(importlib.metadata.entry_points(group="console"))
    broken = importlib.metadata.EntryPoint(
        name="broken", value="console_no_such_module.plugin", group="console"
    )
    monkeypatch.setattr(
        plugins_module.importlib.metadata, "entry_points", lambda group: [*real, broken]
    )
    with pytest.warns(PluginWarning, match="broken") as record:
        plugins = Plugins()
    assert len([w for w in record if "broken" in str(w.message)]) == 1
    assert "gain" in plugins.registry("effect")


def test_a_hook_with_a_typo_is_refused_with_a_warning():
    module = types.ModuleType("typo_plugin")

    @hookimpl
    def register_efects(register):  # misspelt hook name
        pass

    module.register_efects = register_efects
    plugins = Plugins()
    with pytest.warns(PluginWarning, match="typo_plugin"):
        assert plugins.register(module) is None
    assert "gain" in plugins.registry("effect")


def test_a_plugin_that_fails_while_registering_is_skipped():
    class Exploding:
        @hookimpl
        def register_effects(self, register):
            raise RuntimeError("boom")

    plugins = Plugins()
    plugins.register(Exploding(), name="exploding")
    with pytest.warns(PluginWarning, match="exploding"):
        effects = plugins.registry("effect")
    assert "gain" in effects


def test_disabling_autoload_keeps_only_the_console_distribution(monkeypatch):
    real = list(importlib.metadata.entry_points(group="console"))
    fake_dist = types.SimpleNamespace(name="someone-elses", version="1.0")
    third = types.SimpleNamespace(
        name="x", value="third_party_plugin", dist=fake_dist, load=lambda: InvertPlugin()
    )
    monkeypatch.setattr(
        plugins_module.importlib.metadata, "entry_points", lambda group: [*real, third]
    )
    assert "invert" in Plugins().registry("effect")
    monkeypatch.setenv("CONSOLE_DISABLE_PLUGIN_AUTOLOAD", "1")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        registry = Plugins().registry("effect")
    assert "invert" not in registry and "gain" in registry


def test_variants_resolve_by_default_then_by_uniqueness():
    def variant(name):
        return type(name.replace(":", "_"), (Invert,), {"name": name})

    class Variants:
        @hookimpl
        def register_effects(self, register):
            register(variant("warp:a"))
            register(variant("warp:b"), default=True)
            register(variant("solo:only"))
            register(variant("twin:x"))
            register(variant("twin:y"))

    plugins = Plugins()
    plugins.register(Variants())
    assert plugins.resolve("effect", "warp").name == "warp:b"
    assert plugins.resolve("effect", "warp:a").name == "warp:a"
    assert plugins.resolve("effect", "solo").name == "solo:only"
    with pytest.raises(UnknownComponentError, match="twin:x, twin:y"):
        plugins.resolve("effect", "twin")


def test_global_manager_is_cached_and_resettable():
    first = plugins_module.get_plugins()
    assert plugins_module.get_plugins() is first
    plugins_module.reset_plugins()
    assert plugins_module.get_plugins() is not first


def _entry_point(name, load):
    dist = types.SimpleNamespace(name=f"dist-{name}", version="1.0")
    return types.SimpleNamespace(name=name, value=f"{name}_module", dist=dist, load=load)


def _exit():
    sys.exit(3)


def _interrupt():
    raise KeyboardInterrupt


def _system_exit():
    raise SystemExit("bye")


@pytest.mark.parametrize("load, raised", [
    (_exit, "SystemExit: 3"), (_interrupt, "KeyboardInterrupt"), (_system_exit, "SystemExit: bye"),
])
def test_a_plugin_that_exits_at_import_is_skipped_and_named(monkeypatch, load, raised):
    real = list(importlib.metadata.entry_points(group="console"))
    monkeypatch.setattr(plugins_module.importlib.metadata, "entry_points",
                        lambda group: [*real, _entry_point("quitter", load)])
    with pytest.warns(PluginWarning, match="quitter") as record:
        plugins = Plugins()
    assert any("failed to import" in str(w.message) and raised in str(w.message)
               for w in record)
    assert "gain" in plugins.registry("effect")


def test_a_plugin_that_exits_while_registering_is_skipped():
    class Quitter:
        @hookimpl
        def register_effects(self, register):
            sys.exit(1)

    plugins = Plugins()
    plugins.register(Quitter(), name="quitter")
    with pytest.warns(PluginWarning, match="quitter"):
        effects = plugins.registry("effect")
    assert "gain" in effects


class _Shadow:
    @hookimpl
    def register_effects(self, register):
        register(Invert, name="gain")
        register(Invert)


def test_console_plugins_lists_everything_and_reports_a_conflict(monkeypatch, capsys):
    from console.cli.main import main

    plugins = Plugins()
    plugins.register(_Shadow(), name="shadow")
    monkeypatch.setattr(plugins_module, "_PLUGINS", plugins)
    assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    assert "invert" in out and "pan" in out and "vggish" in out  # the rest is listed
    conflict = out[out.index("conflicts:"):]
    assert "'gain'" in conflict and "shadow" in conflict and "console:effects" in conflict
    gain = out[out.index("  gain"):].splitlines()[0]
    assert "console:effects" in gain  # the first to register keeps the name
    assert main(["plugins", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert any("shadow" in c for c in listing["conflicts"])
    assert {e["name"] for e in listing["effect"]} >= {"gain", "invert", "pan"}
    with pytest.raises(PluginConflictError, match="shadow"):  # using the name is still refused
        plugins.resolve("effect", "gain")


def test_console_plugins_names_each_kind_in_the_plural(capsys):
    from console.cli.main import main

    assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    assert "losses:" in out and "losss" not in out
    assert "effects:" in out and "encoders:" in out and "mixers:" in out
