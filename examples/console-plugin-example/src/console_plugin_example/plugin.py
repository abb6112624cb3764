"""The module the entry point names: it tells the console what this package adds."""

from console import hookimpl
from console_plugin_example.drive import Drive


@hookimpl
def register_effects(register):
    register(Drive)
