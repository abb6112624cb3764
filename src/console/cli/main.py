"""Entry point of the ``console`` command.

Each subcommand lives in its own module with ``add_parser(subparsers)`` (which
sets ``func``) so adding a command is one line in :data:`COMMANDS`.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import os
import sys
import warnings
from collections.abc import Sequence

from console.errors import ConsoleError

COMMANDS = (
    "console.cli.plugins",
    "console.cli.mix",
    "console.cli.render",
    "console.cli.export",
    "console.cli.demo",
    "console.cli.train",
    "console.cli.make_sessions",
    "console.cli.plot",
    "console.cli.evaluate",
    "console.cli.listening_test",
    "console.cli.train_emulator",
)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("console")
    except PackageNotFoundError:
        return "unknown (not installed)"


#: The most intra-op threads the default picks: beyond this, the per-track convolutions,
#: FFTs and small networks of a console gain little, and a shared machine loses more.
MAX_DEFAULT_THREADS = 4
#: Environment variables that set torch's thread count; if one is set, the default keeps it.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity), else the machine's count."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def default_threads() -> int:
    """Intra-op threads when ``--threads`` is not given: the idle cores, 1 to 4.

    The cores this process may use minus the machine's 1-minute load average
    (rounded), at least 1 and at most :data:`MAX_DEFAULT_THREADS`. A thread more
    than there are idle cores makes every parallel operation wait for the one
    that was descheduled: on a busy 2-core machine torch's default of 2 threads
    ran the console 2 to 9 times slower than 1 thread.
    """
    try:
        busy = os.getloadavg()[0]
    except (AttributeError, OSError):  # no load average on this platform
        busy = 0.0
    return max(1, min(MAX_DEFAULT_THREADS, available_cores() - round(busy)))


def _thread_count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of threads, 1 or more: {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="console",
        description="Automatic multitrack mixing with a differentiable mixing console.",
    )
    parser.add_argument("--version", action="version", version=f"console {_version()}")
    parser.add_argument(
        "--threads", type=_thread_count, metavar="N", default=None,
        help="intra-op CPU threads of torch for the command. Default: the cores this "
             f"process may use ({available_cores()} here) minus the 1-minute load average, "
             f"1 to {MAX_DEFAULT_THREADS} (with OMP_NUM_THREADS set, torch's own count). "
             "A thread more than there are idle cores makes every operation wait for the one "
             "that was descheduled: on a busy 2-core machine 2 threads ran 2-9x slower than 1.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for module in COMMANDS:
        importlib.import_module(module).add_parser(sub)
    return parser


#: What the file system may refuse whatever console checks first (a full disk, a
#: read-only mount, a name too long to exist), with what to do about it.
FILE_SYSTEM_ADVICE = {
    errno.ENOSPC: "free some space or write elsewhere",
    errno.EDQUOT: "free some space or write elsewhere",
    errno.EROFS: "write elsewhere",
    errno.EACCES: "check its permissions or use another place",
    errno.ENAMETOOLONG: "choose a shorter name",
}


def describe_os_error(exc: OSError) -> str:
    """One sentence for an :class:`OSError` the user's file system caused."""
    where = f" ({exc.filename})" if exc.filename else ""
    return f"{exc.strerror or exc}{where}; {FILE_SYSTEM_ADVICE[exc.errno]}."


def main(argv: Sequence[str] | None = None) -> int:
    """Run a command; user errors print one line and exit 2, without a traceback.

    So do the file system's refusals of :data:`FILE_SYSTEM_ADVICE` (a full disk, a
    read-only place, a name too long); any other exception is a bug and shows its traceback.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    warnings.filterwarnings("default", category=UserWarning, module="console")
    import torch

    threads_before = torch.get_num_threads()
    threads = args.threads
    if threads is None and not any(os.environ.get(name) for name in THREAD_VARIABLES):
        threads = default_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        return int(args.func(args) or 0)
    except ConsoleError as exc:
        print(f"console {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        if exc.errno not in FILE_SYSTEM_ADVICE:
            raise
        print(f"console {args.command}: error: {describe_os_error(exc)}", file=sys.stderr)
        return 2
    except RuntimeError as exc:
        import soundfile

        if not isinstance(exc, soundfile.LibsndfileError):
            raise
        # Readers name a file they cannot read; what reaches here failed while writing
        # audio, where libsndfile says only "System error" for a full disk.
        print(f"console {args.command}: error: writing audio failed ({exc.error_string}); "
              f"the disk may be full or the place not writable: free some space or write "
              f"elsewhere.", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"console {args.command}: interrupted; nothing was overwritten.", file=sys.stderr)
        return 130
    finally:  # a caller in the same process (a test, a notebook) gets its setting back
        torch.set_num_threads(threads_before)


if __name__ == "__main__":
    raise SystemExit(main())
