"""Every hook a console plugin can implement, in one place.

A plugin is a module (or any object) with functions marked ``@hookimpl``
named after these specs, listed under the ``console`` entry-point group::

    [project.entry-points.console]
    my_effects = "my_package.plugin"

Each hook receives a ``register`` callback rather than returning a list, so a
plugin can register any number of components and core records who provided
each one. The built-in effects, encoders and losses register the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("console")
hookimpl = pluggy.HookimplMarker("console")

Register = Callable[..., Any]


@hookspec
def register_effects(register: Register) -> None:
    """Called once when the effect registry is first needed.

    ``register(factory, *, name=None, default=False)`` adds one effect.
    ``factory`` is an :class:`console.Effect` subclass or any callable that
    returns an instance; it is called with no argument, or with the text after
    ``@`` in a spec item (``"eq:tcn@weights.pt"``). ``name`` defaults to
    ``factory.name``. A name may carry a variant after a colon (``"eq:dsp"``);
    ``default=True`` makes it the one a bare family name (``"eq"``) selects.
    Returns nothing.
    """


@hookspec
def register_encoders(register: Register) -> None:
    """Called once when the encoder registry is first needed.

    ``register(factory, *, name=None, default=False)`` adds one
    :class:`console.Encoder`; ``factory`` receives the keyword arguments given
    to ``Console.from_spec(..., encoder_options=...)``. Returns nothing.
    """


@hookspec
def register_losses(register: Register) -> None:
    """Called once when the loss registry is first needed.

    ``register(factory, *, name=None, default=False)`` adds one
    :class:`console.Loss`; ``factory`` receives keyword options. Returns nothing.
    """


@hookspec
def register_mixers(register: Register) -> None:
    """Called once when the mixer registry is first needed.

    ``register(factory, *, name=None, default=False)`` adds one
    :class:`console.mixer.Mixer`: a whole system that turns stems into a stereo
    mix (a baseline, or a model other than a console) which ``console evaluate``
    can compare and ``console train --mixer`` can train. ``factory`` receives
    keyword options. Returns nothing.
    """
