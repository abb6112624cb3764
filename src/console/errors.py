"""Errors a user can meet, each a sentence that says what to do.

The CLI prints these without a traceback; anything else is a bug.
"""


class ConsoleError(Exception):
    """Base class for errors caused by input, configuration or installed plugins."""


class SpecError(ConsoleError, ValueError):
    """A spec string (``"gain+eq+pan"``) that cannot be parsed."""


class UnknownComponentError(ConsoleError, LookupError):
    """A name that no installed plugin registers."""


class PluginConflictError(ConsoleError):
    """Two plugins register the same component name."""


class AudioInputError(ConsoleError, ValueError):
    """Audio that cannot be used: unreadable, empty, missing or inconsistent."""


class CheckpointError(ConsoleError, ValueError):
    """A checkpoint file that cannot be loaded."""


class DivergedError(ConsoleError, FloatingPointError):
    """A training run whose loss became NaN or infinite (too high a learning rate, bad data)."""


class PluginWarning(UserWarning):
    """A plugin that failed to load and was skipped; the rest keep working."""
