import pytest

from console import Effect, hookimpl
from console.errors import SpecError
from console.plugins import Plugins
from console.spec import SpecItem, build_chain, parse_spec


def test_parse_items_variants_and_arguments():
    assert parse_spec("gain+eq:dsp+comp+reverb:tcn@/tmp/w.pt+pan") == [
        SpecItem("gain"),
        SpecItem("eq:dsp"),
        SpecItem("comp"),
        SpecItem("reverb:tcn", "/tmp/w.pt"),
        SpecItem("pan"),
    ]


@pytest.mark.parametrize("bad", ["", "  ", "gain++pan", "Gain+pan", "gain+pan:", "gain+@x"])
def test_malformed_specs_are_refused(bad):
    with pytest.raises(SpecError):
        parse_spec(bad)


def test_build_chain_records_resolved_names():
    effects, items = build_chain("gain+pan")
    assert items == ["gain", "pan"]
    assert [e.name for e in effects] == ["gain", "pan"]


def test_a_mono_only_effect_after_a_stereo_one_is_refused():
    # pan makes the track stereo; a second pan is fine, it accepts stereo
    build_chain("gain+pan+pan")

    class MonoOnly(Effect):
        name = "monoonly"

        def output_channels(self, in_channels):
            if in_channels != 1:
                raise ValueError("mono input only")
            return 1

    class P:
        @hookimpl
        def register_effects(self, register):
            register(MonoOnly)

    plugins = Plugins()
    plugins.register(P())
    with pytest.raises(SpecError, match="monoonly"):
        build_chain("pan+monoonly", plugins)


@pytest.mark.parametrize(
    "spec", ["gain+pan", "gain+eq+comp+reverb+pan", "gain+eq:dsp+comp:dsp+reverb:dsp+pan"]
)
def test_resolving_a_spec_names_what_building_it_would_build(spec):
    from console.chain import EffectChain
    from console.spec import resolve_spec

    assert resolve_spec(spec) == EffectChain.from_spec(spec).spec
