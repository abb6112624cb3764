"""Ardour's own headless exporter, to render a session the way Ardour plays it.

Debian's ``ardour`` package installs ``ardour7-export`` (later versions
``ardour8-export`` and so on): it loads a session with no audio device and
writes the master bus over the session range to a file, after running every
plugin for two seconds on silence so their parameter smoothing has settled.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from console.errors import ConsoleError

#: Newest first; a session in Ardour 7's format loads in all of them.
EXPORTERS = ("ardour9-export", "ardour8-export", "ardour7-export")


class ArdourError(ConsoleError, RuntimeError):
    """Ardour's exporter is missing, or failed on a session."""


def find_exporter() -> str | None:
    """The path of Ardour's headless exporter, or ``None`` when Ardour is not installed."""
    for name in EXPORTERS:
        found = shutil.which(name)
        if found:
            return found
    return None


#: ardour7-export now and then aborts (a double free, exit -6) while loading a session it
#: renders on the next try: 2 of 20 runs of one session here, 5 of 20 with both cores busy,
#: where three tries in all once failed a fresh clone's test suite. An exporter killed by a
#: signal is tried this many times in all (a crash costs about a second).
TRIES_AFTER_A_CRASH = 8


def render_with_ardour(session_dir: str | Path, output: str | Path, timeout: float = 600.0) -> Path:
    """Render the session's master bus to a 32-bit float WAV with Ardour's exporter.

    Ardour adds its usual folders and an ``instant.xml`` to the session folder, as
    opening it would; the ``.ardour`` file is not changed. An exporter that crashes
    (killed by a signal) is run again, up to :data:`TRIES_AFTER_A_CRASH` times; one
    that exits with an error is not.
    """
    exporter = find_exporter()
    if exporter is None:
        raise ArdourError(
            "Ardour's headless exporter (ardour7-export) is not installed; install Ardour "
            "(Debian: apt-get install ardour ardour-lv2-plugins) or leave out --check."
        )
    session_dir = Path(session_dir).resolve()
    output = Path(output).resolve()
    if ":" in str(session_dir):
        raise ArdourError(
            f"Ardour cannot load a session from {session_dir}: it reads ':' as a separator "
            f"between folders (and leaves session folders in the working directory); move "
            f"or rename it to a path without ':'."
        )
    name = session_dir.name
    command = [exporter, "-b", "float", "-o", str(output), str(session_dir), name]
    for _ in range(TRIES_AFTER_A_CRASH):
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                                  check=False, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired as exc:
            raise ArdourError(f"{Path(exporter).name} did not finish {name} within "
                              f"{timeout:g} s.") from exc
        if done.returncode >= 0:
            break
    if done.returncode != 0 or not output.is_file():
        tail = " ".join((done.stdout + done.stderr).split()[-40:])
        raise ArdourError(f"{Path(exporter).name} could not render {name} (exit "
                          f"{done.returncode}): {tail}")
    return output
