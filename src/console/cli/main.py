"""Entry point of the ``console`` command.

Each subcommand lives in its own module with ``add_parser(subparsers)`` (which
sets ``func``) so adding a command is one line in :data:`COMMANDS`.
"""

from __future__ import annotations

import argparse
import importlib
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="console",
        description="Automatic multitrack mixing with a differentiable mixing console.",
    )
    parser.add_argument("--version", action="version", version=f"console {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for module in COMMANDS:
        importlib.import_module(module).add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run a command; user errors print one line and exit 2, without a traceback."""
    parser = build_parser()
    args = parser.parse_args(argv)
    warnings.filterwarnings("default", category=UserWarning, module="console")
    try:
        return int(args.func(args) or 0)
    except ConsoleError as exc:
        print(f"console {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"console {args.command}: interrupted; nothing was overwritten.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
