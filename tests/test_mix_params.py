import json

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from console import MixParams
from console.chain import EffectChain
from console.mix_params import MixParamsError, chain_keys

CHAIN = EffectChain.from_spec("gain+pan")


@settings(max_examples=50, deadline=None)
@given(
    values=st.lists(
        st.tuples(st.floats(-48, 24), st.floats(-1, 1)), min_size=1, max_size=6
    )
)
def test_a_saved_mix_loads_back_equal(values):
    tensor = torch.tensor(values, dtype=torch.float64)
    names = [f"track{i}.wav" for i in range(len(values))]
    params = MixParams.from_tensor(tensor, CHAIN.layout, names, CHAIN.spec, 44100)
    back = MixParams.from_json(params.to_json())
    assert back == params
    torch.testing.assert_close(back.to_tensor(CHAIN.layout).double(), tensor, atol=1e-5, rtol=0)


def valid() -> dict:
    params = MixParams.from_tensor(torch.zeros(2, 2), CHAIN.layout, ["a", "b"], "gain+pan", 8000)
    return json.loads(params.to_json())


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda d: d.update(format="other"), "not a console mix-parameter file"),
        (lambda d: d.update(version=99), "format version 99"),
        (lambda d: d.update(tracks="nope"), "invalid content"),
        (lambda d: d.update(surprise=1), "invalid content"),
        (lambda d: d["tracks"][0]["effects"]["gain"].update(gain_db=100), "outside its range"),
        (lambda d: d["tracks"][0]["effects"]["gain"].pop("gain_db"), "missing gain.gain_db"),
        (lambda d: d["tracks"][1]["effects"].update(eq={}), "does not have"),
        (lambda d: d["tracks"][1]["effects"]["pan"].update(width=1), "unknown parameters"),
    ],
)
def test_broken_files_give_readable_errors(edit, message):
    data = valid()
    edit(data)
    with pytest.raises(MixParamsError, match=message):
        MixParams.from_json(json.dumps(data)).to_tensor(CHAIN.layout)


def test_not_json_and_missing_file(tmp_path):
    with pytest.raises(MixParamsError, match="not valid JSON"):
        MixParams.from_json("{")
    with pytest.raises(MixParamsError, match="Cannot read"):
        MixParams.load(tmp_path / "nope.json")


def test_repeated_effects_get_numbered_keys():
    assert chain_keys(["gain", "eq:dsp", "gain", "eq:tcn@x.pt", "gain"]) == [
        "gain", "eq", "gain.2", "eq.2", "gain.3",
    ]


@pytest.mark.parametrize("value", ['"3"', "true", "NaN", "Infinity", "-Infinity", "null", "[1]"])
def test_a_setting_that_is_not_a_finite_number_is_refused_by_name(value):
    text = json.dumps(valid()).replace('"gain_db": 0.0', f'"gain_db": {value}', 1)
    assert value in text
    with pytest.raises(MixParamsError) as exc:
        MixParams.from_json(text, source="p.json")
    message = str(exc.value)
    assert message.startswith("p.json: Track 'a': gain.gain_db must be a finite number")
    assert value in message and "\n" not in message


@pytest.mark.parametrize("rate", ["0", "-44100", '"44100"', "44100.5", "true", "NaN", "null"])
def test_a_sample_rate_that_is_not_a_positive_whole_number_is_refused(rate):
    text = json.dumps(valid()).replace('"sample_rate": 8000', f'"sample_rate": {rate}', 1)
    assert rate in text
    with pytest.raises(MixParamsError, match="sample_rate must be a whole number of Hz from 8000"):
        MixParams.from_json(text)


def test_whole_numbers_are_settings_too_and_the_file_still_loads():
    text = json.dumps(valid()).replace('"gain_db": 0.0', '"gain_db": -6', 1)
    params = MixParams.from_json(text)
    assert params.tracks[0].effects["gain"]["gain_db"] == -6
    assert params.to_tensor(CHAIN.layout)[0, 0] == -6.0


def test_an_edit_to_nan_is_refused():
    params = MixParams.from_json(json.dumps(valid()))
    with pytest.raises(MixParamsError, match="finite number"):
        params.with_value("a", "gain", "gain_db", float("nan"))
