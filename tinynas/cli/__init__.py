"""The ``tinynas`` command line: one thin module per command, each only parsing arguments and
calling library functions. Command modules are imported lazily, so commands that do not train
never import TensorFlow."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from collections.abc import Sequence

from tinynas.errors import TinyNASError

#: Command name -> (module under tinynas.cli, one-line help).
COMMANDS: dict[str, tuple[str, str]] = {
    "boards": ("catalog", "list the shipped boards with their limits"),
    "spaces": ("catalog", "list the shipped search spaces"),
    "search": ("search", "run (or resume) a multi-objective search"),
    "worker": ("search", "join an existing study as one more worker"),
    "pareto": ("pareto", "print the feasible Pareto-optimal trials of a study"),
    "export": ("export", "export a trial or a .tflite file for firmware"),
    "estimate": ("estimate", "estimate RAM, flash, MACs and latency of one architecture"),
    "analyze": ("analyze", "analyze any full-int8 .tflite model against a board"),
    "verify": ("verify", "build an exported C runtime and compare it byte for byte with TFLite"),
    "data": ("data", "list, inspect or synthesize datasets"),
    "collect": ("collect", "record a sensor stream from a serial port into CSV files"),
    "bench": ("bench", "run an exported model on a device or emulator and measure it"),
    "calibrate": ("calibrate", "fit the latency model's cycle constants from bench results"),
    "dashboard": ("dashboard", "browse studies in optuna-dashboard"),
    "report": ("report", "write an HTML and Markdown report of a study"),
}


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        sys.exit(2)


def _available(module: str) -> bool:
    return importlib.util.find_spec(f"tinynas.cli.{module}") is not None


def build_parser(command: str | None) -> argparse.ArgumentParser:
    """The parser, with only ``command``'s module imported (all of them for help)."""
    parser = _Parser(prog="tinynas", description="Neural architecture search for microcontrollers.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, (module, help_text) in COMMANDS.items():
        if command is not None and name != command:
            sub.add_parser(name, help=help_text, add_help=False)
            continue
        if not _available(module):
            continue
        sub_parser = sub.add_parser(name, help=help_text, description=help_text)
        importlib.import_module(f"tinynas.cli.{module}").configure(name, sub_parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``tinynas`` command.

    Returns:
        0 on success, 2 for bad input (one line on stderr), 130 when interrupted.
    """
    args_list = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in args_list if not a.startswith("-")), None)
    parser = build_parser(command if command in COMMANDS else None)
    args = parser.parse_args(args_list)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        result = args.func(args)
    except TinyNASError as exc:
        sys.stderr.write(f"tinynas {args.command}: error: {exc}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write(f"tinynas {args.command}: interrupted\n")
        return 130
    except BrokenPipeError:
        return 0
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
