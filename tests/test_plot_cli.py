"""``console plot``: PNGs from whatever plot methods an effect has, clear errors otherwise."""

from __future__ import annotations

import json
import math
import struct
import sys
from pathlib import Path

import pytest
import torch

from console.cli.main import main
from console.cli.plot import _settings_from_mix
from console.effect import Effect
from console.hookspecs import hookimpl
from console.mix_params import MixParams, TrackParams
from console.params import ParamSpec
from console.plotting import compressor_test_signal, energy_decay_db, plot_methods
from console.plugins import get_plugins

pytest.importorskip("matplotlib")

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG's header; fails on anything that is not a PNG."""
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_eq_plot_writes_a_png(tmp_path, capsys):
    out = tmp_path / "plots" / "eq.png"
    params = json.dumps({"band1_gain_db": 9.0, "band1_freq_hz": 300.0, "high_shelf_gain_db": -6})
    assert main(["plot", "eq", "--params", params, "-o", str(out)]) == 0
    width, height = png_size(out)
    assert width > 100 and height > 100
    assert "frequency_response" in capsys.readouterr().out
    assert [p.name for p in out.parent.iterdir() if p.name.startswith(".")] == [
        ".console-manifest.json"]  # no temp files left; the record of what console wrote


def test_params_read_from_a_mix_file_with_track(tmp_path, capsys):
    eq_values = {"band2_gain_db": -12.0, "band2_q": 3.0}
    mix = MixParams(
        spec="gain+eq:dsp+pan",
        sample_rate=22050,
        tracks=[
            TrackParams("bass.wav", {"gain": {"gain_db": 0.0}, "eq": eq_values, "pan": {"pan": 0}}),
            TrackParams("drums.wav", {"gain": {"gain_db": 1.0}, "eq": {}, "pan": {"pan": 0.2}}),
        ],
    )
    path = tmp_path / "params.json"
    mix.save(path)
    out = tmp_path / "bass_eq.png"
    code = main(["plot", "eq", "--params", str(path), "--track", "bass.wav", "-o", str(out)])
    assert code == 0 and png_size(out)[0] > 0
    assert f"wrote {out}" in capsys.readouterr().out
    values, item = _settings_from_mix(mix, "eq", "bass.wav", str(path))
    assert (values, item) == (eq_values, "eq:dsp")

    assert main(["plot", "eq", "--params", str(path), "-o", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert "--track" in err and "bass.wav" in err and "drums.wav" in err
    assert not (tmp_path / "x.png").exists()


def test_effect_without_plot_methods_is_a_clear_error(tmp_path, capsys):
    out = tmp_path / "gain.png"
    assert main(["plot", "gain", "--params", '{"gain_db": 3}', "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "nothing to plot" in err and "frequency_response" in err
    assert "Traceback" not in err and not out.exists()


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ('{"band9_gain_db": 3}', "does not have"),
        ('{"band1_gain_db": 99}', "outside its range"),
        ('{"band1_gain_db": "loud"}', "finite number"),
        ("[1, 2]", "JSON object"),
        ("no_such_file.json", "neither a JSON object nor a readable file"),
    ],
)
def test_bad_params_are_explained(tmp_path, capsys, monkeypatch, params, message):
    monkeypatch.chdir(tmp_path)
    assert main(["plot", "eq", "--params", params, "-o", str(tmp_path / "eq.png")]) == 2
    assert message in capsys.readouterr().err


def test_missing_matplotlib_names_the_extra(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import fails as if not installed
    assert main(["plot", "eq", "-o", str(tmp_path / "eq.png")]) == 2
    assert "pip install 'console[plot]'" in capsys.readouterr().err


class DecayingEcho(Effect):
    """A test-only plugin effect that offers just an impulse response."""

    name = "echo:test"
    description = "Exponentially decaying echo, for the plot tests."
    params = (ParamSpec("decay_s", "s", 0.05, 2.0, 0.5, scale="log"),)

    def process(self, x, params, sample_rate):
        return x

    def impulse_response(self, params, sample_rate):
        seconds = torch.arange(sample_rate // 2, dtype=params.dtype) / sample_rate
        return torch.exp(-6.91 * seconds / params[:, :1])[:, None, :]


class EchoPlugin:
    @hookimpl
    def register_effects(self, register):
        register(DecayingEcho)


def test_a_plugin_effect_is_plotted_from_its_own_methods(tmp_path, capsys):
    assert plot_methods(DecayingEcho()) == ["impulse_response"]
    out = tmp_path / "echo.png"
    with get_plugins().temporary(EchoPlugin()):
        code = main(["plot", "echo", "--params", '{"decay_s": 0.3}', "-o", str(out)])
    assert code == 0 and png_size(out)[1] > 0
    assert "impulse_response" in capsys.readouterr().out


def test_energy_decay_of_an_exponential_falls_at_its_rate():
    r = 0.999
    response = r ** torch.arange(20000, dtype=torch.float64)
    decay = energy_decay_db(response)
    assert decay[0] == pytest.approx(0.0)
    slope_per_sample = (decay[5000] - decay[1000]) / 4000
    assert slope_per_sample.item() == pytest.approx(20 * math.log10(r), rel=1e-3)
    assert torch.isfinite(energy_decay_db(torch.zeros(2, 100))).all()


def test_the_compressor_emulator_draws_its_own_learned_curve(tmp_path, capsys):
    """Bare `comp` is the grey-box emulator: the curve drawn is the one its audio follows.

    The expectation is independent of the code that draws it: a constant input holds the
    detector at its level, so the output's last sample is the curve at that level, as the
    emulator really compresses.
    """
    out = tmp_path / "comp.png"
    assert main(["plot", "comp", "--params", '{"threshold_db": -30}', "-o", str(out)]) == 0
    assert out.read_bytes()[:4] == b"\x89PNG"
    captured = capsys.readouterr()
    assert "static_curve" in captured.out and "gain_trace" in captured.out
    assert "drawing comp:dsp" not in captured.err
    emulator = get_plugins().resolve("effect", "comp").create()
    assert emulator.name == "comp:greybox"
    params = torch.tensor([[spec.default for spec in emulator.params]])
    params[0, 0] = -30.0
    levels = torch.linspace(-60.0, 0.0, 13)
    steady = (10.0 ** (levels / 20.0))[:, None, None].expand(-1, 1, 44100).contiguous()
    with torch.no_grad():
        heard = emulator(steady.double(), params.expand(13, -1).double(), 44100)[:, 0, -1]
    torch.testing.assert_close(emulator.static_curve(params, levels)[0].double(),
                               20.0 * heard.log10(), atol=0.05, rtol=0)
    # and it is not comp:dsp's curve at the same knobs: the emulator's threshold is learned
    dsp = get_plugins().resolve("effect", "comp:dsp").create()
    assert (dsp.static_curve(params, levels)[0] - emulator.static_curve(params, levels)[0]
            ).abs().max() > 0.5
    tone = compressor_test_signal(44100)
    trace = emulator.gain_trace(tone, params, 44100)
    assert trace.shape == (1, tone.shape[-1]) and float(trace.max()) <= 0.0
    assert float(trace.min()) < -6.0  # the -6 dBFS step is compressed


def test_a_bare_family_whose_default_cannot_plot_draws_a_variant_that_can(
    tmp_path, capsys, monkeypatch
):
    """A family default with no curves (a plugin's neural effect) draws its twin's instead."""
    from console_effects.emulator import CompressorEmulator

    monkeypatch.delattr(CompressorEmulator, "static_curve")
    monkeypatch.delattr(CompressorEmulator, "gain_trace")
    out = tmp_path / "comp.png"
    assert main(["plot", "comp", "--params", '{"threshold_db": -30}', "-o", str(out)]) == 0
    captured = capsys.readouterr()
    assert "static_curve" in captured.out and "drawing comp:dsp" in captured.err
    # naming the curveless effect explicitly stays a clear error
    explicit = tmp_path / "tcn.png"
    code = main(["plot", "comp", "--effect", "comp:tcn", "--params", "{}", "-o", str(explicit)])
    assert code == 2 and not explicit.exists()
