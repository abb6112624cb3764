"""Run one measurement in a fresh Python process: its own peak memory, its threads, a cap.

``run_isolated("bench_fast_effects", "effect_row", {...})`` starts
``python isolated.py``, which sets torch's intra-op threads, caps the memory the
measurement may add (``RLIMIT_AS``: an allocation past the cap fails in this
process instead of the kernel's OOM killer choosing a victim on a shared
machine), calls the function and prints its JSON result with the process's
peak RSS. A fresh process per row keeps one row's peak from hiding another's.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
_MARK = "ISOLATED-RESULT "


def current_rss_mb() -> float:
    """Resident memory of this process now, in MB."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mb() -> float:
    """Largest resident memory of this process since it started or since
    :func:`reset_peak_rss`, in MB (``VmHWM``; else ``ru_maxrss``, which never resets)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak_rss() -> bool:
    """Start :func:`peak_rss_mb` again from the current RSS (Linux ``clear_refs``); False if not."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    return True


def _virtual_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def cap_memory(extra_gb: float) -> None:
    """Let this process map at most ``extra_gb`` more than it has mapped now."""
    limit = _virtual_bytes() + int(extra_gb * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (limit, resource.getrlimit(resource.RLIMIT_AS)[1]))


def run_isolated(
    module: str, function: str, kwargs: dict[str, Any], threads: int = 1,
    memory_gb: float | None = None, timeout: float | None = None,
) -> dict[str, Any]:
    """``module.function(**kwargs)`` in a child process; its dict result, or ``{"error": ...}``."""
    command = [sys.executable, str(Path(__file__)), module, function, json.dumps(kwargs),
               str(threads), "" if memory_gb is None else str(memory_gb)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                              cwd=HERE)
    except subprocess.TimeoutExpired:
        return {"error": f"stopped after {timeout:g} s"}
    for line in reversed(done.stdout.splitlines()):
        if line.startswith(_MARK):
            return json.loads(line[len(_MARK):])
    tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
    return {"error": f"exit {done.returncode}: {tail[0][:200]}"}


def _child(module: str, function: str, kwargs: str, threads: str, memory_gb: str) -> None:
    import importlib

    import torch

    sys.path.insert(0, str(HERE))
    torch.set_num_threads(int(threads))
    target = getattr(importlib.import_module(module), function)
    if memory_gb:
        cap_memory(float(memory_gb))
    try:
        result = target(**json.loads(kwargs))
    except (MemoryError, RuntimeError) as exc:  # torch reports a refused allocation as either
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if "alloc" not in text.lower() and not isinstance(exc, MemoryError):
            raise
        result = {"error": f"out of memory at the {memory_gb} GB cap ({text[:120]})"}
    result["peak_rss_mb"] = peak_rss_mb()
    print(_MARK + json.dumps(result), flush=True)


if __name__ == "__main__":
    _child(*sys.argv[1:6])
