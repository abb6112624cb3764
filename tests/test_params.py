import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from console import ParamSpec

FREQ = ParamSpec("cutoff_hz", "Hz", 20.0, 20000.0, 1000.0, scale="log")
GAIN = ParamSpec("gain_db", "dB", -24.0, 12.0, 0.0)


@given(u=st.floats(0.0, 1.0))
def test_denormalise_then_normalise_round_trips(u):
    for spec in (FREQ, GAIN):
        back = spec.normalise(spec.denormalise(torch.tensor(u, dtype=torch.float64)))
        assert math.isclose(float(back), u, abs_tol=1e-9)


def test_log_scale_puts_geometric_mean_at_half():
    assert float(FREQ.denormalise(torch.tensor(0.5))) == pytest.approx(math.sqrt(20 * 20000), 1e-4)
    assert float(GAIN.denormalise(torch.tensor(0.5))) == pytest.approx(-6.0)


def test_denormalise_clamps_out_of_range_input():
    assert float(GAIN.denormalise(torch.tensor(1.7))) == pytest.approx(12.0)
    assert float(GAIN.denormalise(torch.tensor(-3.0))) == pytest.approx(-24.0)


def test_sampling_stays_in_range_and_is_reproducible():
    a = FREQ.sample(1000, generator=torch.Generator().manual_seed(3))
    b = FREQ.sample(1000, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    assert float(a.min()) >= 20.0 and float(a.max()) <= 20000.0
    # log scale: about half the draws fall below the geometric mean
    assert 0.4 < float((a < math.sqrt(20 * 20000)).float().mean()) < 0.6


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"minimum": 5.0, "maximum": 1.0, "default": 2.0}, "must be below"),
        ({"minimum": 0.0, "maximum": 1.0, "default": 2.0}, "outside"),
        ({"minimum": 0.0, "maximum": 1.0, "default": 0.5, "scale": "log"}, "positive minimum"),
        ({"minimum": 0.0, "maximum": float("inf"), "default": 0.5}, "finite"),
    ],
)
def test_invalid_specs_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ParamSpec("x", "unit", **kwargs)


def test_names_must_be_identifiers():
    with pytest.raises(ValueError):
        ParamSpec("Gain dB", "dB", -1, 1, 0)


def test_describe_names_unit_and_range():
    assert FREQ.describe() == "cutoff_hz [20, 20000] Hz (default 1000, log)"
