"""Entry point of the ``dllm`` console script.

Subcommands are registry entries (hook ``dllm_register_commands``): ``dllm --help`` lists them
from their registered help text, and only the chosen subcommand's module is imported. Errors
meant for the user (:class:`dllm_core.registry.DllmError`) print one line and exit with 2;
``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from typing import Sequence

from dllm_core import __version__
from dllm_core.errors import DllmError, unknown_name_error
from dllm_core.registry import get_registry

USAGE_ERROR = 2


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line naming the problem and the fix."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise DllmError(f"{message}. Run `{self.prog} --help` for usage.")


def _command_token(argv: Sequence[str]) -> str | None:
    """The first positional token: the subcommand name (global flags take no values)."""
    for token in argv:
        if not token.startswith("-"):
            return token
    return None


def build_parser(command: str | None) -> argparse.ArgumentParser:
    """The top-level parser; only ``command``'s own arguments are loaded (lazily)."""
    host = get_registry()
    parser = _Parser(
        prog="dllm",
        description="dllm: train, sample from and evaluate diffusion language models.",
        epilog="Run `dllm COMMAND --help` for a command's options; `dllm plugins` lists plugins.",
    )
    parser.add_argument("--version", action="version", version=f"dllm {__version__} (dllm-core)")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for entry in host.commands:
        sub_parser = sub.add_parser(entry.name, help=entry.metadata.get("help", ""),
                                    description=entry.metadata.get("help", ""))
        if entry.name == command:
            entry.resolve().add_arguments(sub_parser)
    return parser


def _warn_failed_plugins(command: str | None) -> None:
    if command == "plugins":
        return  # the table shows them
    for info in get_registry().failed_plugins():
        print(f"dllm: warning: {info.describe()} skipped: {info.error}. "
              "Fix or uninstall it (DLLM_PLUGINS limits which plugins load).", file=sys.stderr)


def run(argv: Sequence[str]) -> int:
    command = _command_token(argv)
    host = get_registry()
    if command is not None and command not in host.commands:
        raise unknown_name_error("command", command, host.commands.names(),
                                 "Run `dllm --help` for the list of commands.")
    args = build_parser(command).parse_args(list(argv))
    if args.command is None:
        build_parser(None).print_help()
        return 0
    _warn_failed_plugins(args.command)
    return int(host.commands.get(args.command).run(args) or 0)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    try:
        return run(argv)
    except DllmError as exc:
        if debug:
            traceback.print_exc()
        print(f"dllm: error: {exc}", file=sys.stderr)
        return USAGE_ERROR
    except KeyboardInterrupt:
        print("dllm: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
