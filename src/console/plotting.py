"""Pictures of what an effect does, from whichever plot methods it offers.

Core never imports an effect here: a figure is built from optional methods
found on the instance, so a third-party effect gets plots by defining them.

- ``frequency_response(params, sample_rate, n_freqs) -> (freqs_hz (F,), magnitude_db (N, F))``
- ``static_curve(params, input_db (L,)) -> output_db (N, L)``
- ``gain_trace(x (N, C, T), params, sample_rate) -> gain change in dB (N, T)``
- ``impulse_response(params, sample_rate) -> (N, C, L)``, drawn as its energy decay

matplotlib is an optional extra (``console[plot]``) and is imported only when a
figure is drawn.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from console.errors import ConsoleError
from console.figures import png_figure, pyplot

PLOT_METHODS = ("frequency_response", "static_curve", "gain_trace", "impulse_response")


class PlotError(ConsoleError):
    """An effect that cannot be plotted, or plotting without matplotlib."""


def _pyplot() -> Any:
    """``matplotlib.pyplot`` on the file-only Agg backend, or a clear error if it is missing."""
    plt = pyplot()
    if plt is None:
        raise PlotError(
            "Plotting needs matplotlib, which is not installed; run "
            "`pip install 'console[plot]'`."
        )
    return plt


def plot_methods(effect: object) -> list[str]:
    """The plot methods ``effect`` implements, in :data:`PLOT_METHODS` order."""
    return [name for name in PLOT_METHODS if callable(getattr(effect, name, None))]


def energy_decay_db(impulse_response: torch.Tensor) -> torch.Tensor:
    """Schroeder's backward-integrated energy ``(..., L)`` in dB, 0 dB at the start.

    ``EDC[n] = sum_{k >= n} h[k]^2``; silence gives a floor of -300 dB rather than -inf.
    """
    energy = impulse_response.double().square().flip(-1).cumsum(-1).flip(-1)
    total = energy[..., :1].clamp_min(1e-300)
    return 10.0 * torch.log10((energy / total).clamp_min(1e-30))


def compressor_test_signal(sample_rate: int, seconds: float = 0.6) -> torch.Tensor:
    """A 1 kHz tone, quiet then loud then quiet (-40, -6, -40 dBFS), ``(1, 1, T)``.

    The step up shows the attack, the step down the release.
    """
    t = torch.arange(int(3 * seconds * sample_rate), dtype=torch.float64) / sample_rate
    level_db = torch.full_like(t, -40.0)
    level_db[(t >= seconds) & (t < 2 * seconds)] = -6.0
    tone = torch.sin(2 * math.pi * 1000.0 * t) * math.sqrt(2.0) * 10.0 ** (level_db / 20.0)
    return tone.float()[None, None, :]


def _draw_frequency_response(ax: Any, effect: Any, params: torch.Tensor, sample_rate: int) -> None:
    freqs, magnitude = effect.frequency_response(params, sample_rate, 1024)
    ax.semilogx(freqs.numpy(), magnitude[0].numpy())
    ax.axhline(0.0, color="0.6", linewidth=0.8)
    low, high = float(magnitude[0].min()), float(magnitude[0].max())
    if high - low < 2.0:  # a flat EQ: show +-1 dB, not rounding noise magnified to fill the axes
        middle = round((high + low) / 2.0)
        ax.set_ylim(middle - 1.0, middle + 1.0)
    ax.set(xlabel="frequency (Hz)", ylabel="magnitude (dB)", title="Magnitude response")
    ax.grid(True, which="both", alpha=0.3)


def _draw_static_curve(ax: Any, effect: Any, params: torch.Tensor, sample_rate: int) -> None:
    input_db = torch.linspace(-80.0, 0.0, 321)
    output_db = effect.static_curve(params, input_db)
    ax.plot(input_db.numpy(), output_db[0].float().numpy(), label="output")
    ax.plot(input_db.numpy(), input_db.numpy(), color="0.6", linestyle="--", label="unity")
    ax.set(xlabel="input level (dB)", ylabel="output level (dB)", title="Static curve")
    ax.legend(loc="lower right")
    ax.grid(True, alpha=0.3)


def _draw_gain_trace(ax: Any, effect: Any, params: torch.Tensor, sample_rate: int) -> None:
    signal = compressor_test_signal(sample_rate).to(params.dtype)
    gain_db = effect.gain_trace(signal, params, sample_rate)[0].float()
    seconds = torch.arange(gain_db.shape[-1]) / sample_rate
    ax.plot(seconds.numpy(), gain_db.numpy())
    ax.set(
        xlabel="time (s)", ylabel="gain change (dB)",
        title="Gain on a 1 kHz tone stepping -40 / -6 / -40 dBFS",
    )
    ax.grid(True, alpha=0.3)


def _draw_energy_decay(ax: Any, effect: Any, params: torch.Tensor, sample_rate: int) -> None:
    response = effect.impulse_response(params, sample_rate)
    decay_db = energy_decay_db(response[0]).float()
    seconds = torch.arange(decay_db.shape[-1]) / sample_rate
    names = ("left", "right") if decay_db.shape[0] == 2 else [
        f"channel {c}" for c in range(decay_db.shape[0])
    ]
    for channel, label in zip(decay_db, names, strict=True):
        ax.plot(seconds.numpy(), channel.numpy(), label=label)
    ax.axhline(-60.0, color="0.6", linestyle="--", linewidth=0.8)
    ax.set(xlabel="time (s)", ylabel="energy (dB)", title="Energy decay (Schroeder)", ylim=(-90, 3))
    ax.legend(loc="upper right")
    ax.grid(True, alpha=0.3)


_DRAWERS: dict[str, Callable[[Any, Any, torch.Tensor, int], None]] = {
    "frequency_response": _draw_frequency_response,
    "static_curve": _draw_static_curve,
    "gain_trace": _draw_gain_trace,
    "impulse_response": _draw_energy_decay,
}


def plot_effect(
    effect: Any, params: torch.Tensor, sample_rate: int, path: str | Path, title: str = ""
) -> list[str]:
    """Draw one panel per plot method of ``effect`` for ``(1, P)`` params into a PNG.

    Returns the methods drawn. The file appears only once it is complete.
    """
    methods = plot_methods(effect)
    name = getattr(effect, "name", type(effect).__name__)
    if not methods:
        raise PlotError(
            f"The effect {name!r} has nothing to plot: it defines none of "
            f"{', '.join(PLOT_METHODS)}."
        )
    plt = _pyplot()
    with png_figure(
        plt, path, dpi=110, nrows=len(methods), ncols=1, figsize=(8, 3.6 * len(methods)),
        squeeze=False,
    ) as (figure, axes):
        with torch.no_grad():
            for ax, method in zip(axes[:, 0], methods, strict=True):
                _DRAWERS[method](ax, effect, params, sample_rate)
        figure.suptitle(title or name)
    return methods
