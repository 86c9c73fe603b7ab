"""Entry point: parse arguments, dispatch, turn user errors into one line
and exit code 2."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from ..errors import InputError, RunInterrupted
from . import analyse, bench, info, plot, resume, run, sensitivity, submit, summarize, sweep

SUBCOMMANDS = (run, resume, sweep, submit, summarize, plot, analyse, sensitivity, info, bench)


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2 (argparse's default prints usage too)
        raise InputError(f"{self.prog}: {message}")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="gpusim", description="Lattice simulation of cancer immunotherapy.")
    from ..version import __version__

    parser.add_argument("--version", action="version", version=f"gpusim {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for module in SUBCOMMANDS:
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="gpusim: %(message)s", stream=sys.stderr)
    logging.getLogger("numexpr").setLevel(logging.WARNING)  # pandas' "NumExpr defaulting to N threads" is noise
    try:
        args = build_parser().parse_args(argv)
        return int(args.func(args) or 0)
    except InputError as err:
        print(f"gpusim: error: {err}", file=sys.stderr)
        return 2
    except RunInterrupted as err:  # checkpoint written, status "interrupted"
        print(f"gpusim: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("gpusim: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into head & co., which stopped reading: not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
