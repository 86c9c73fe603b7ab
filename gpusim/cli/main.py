"""Entry point: parse arguments, dispatch, turn user errors into one line
and exit code 2."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import warnings

from ..errors import InputError, RunInterrupted, WriteError
from . import (analyse, bench, calibrate, export, info, plot, resume, run, sensitivity, submit, summarize, sweep,
               validate)

SUBCOMMANDS = (run, resume, sweep, submit, summarize, plot, analyse, sensitivity, export, validate, info, bench,
               calibrate)


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


def _h5py_dealloc_noise(exc, tb) -> bool:
    """After a failed HDF5 write (a full disk) every h5py object freed repeats
    the failure from ``ObjectID._dealloc`` (Cython prints it through
    sys.excepthook, then sys.unraisablehook); the command's one-line error
    already says what happened."""
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return isinstance(exc, RuntimeError) and tb is not None and tb.tb_frame.f_code.co_name.endswith("_dealloc") \
        and tb.tb_frame.f_code.co_filename.endswith("_objects.pyx")


def _excepthook(kind, exc, tb) -> None:
    if not _h5py_dealloc_noise(exc, tb):
        sys.__excepthook__(kind, exc, tb)


def _unraisablehook(info) -> None:
    if not _h5py_dealloc_noise(info.exc_value, info.exc_traceback):
        sys.__unraisablehook__(info)


def main(argv: list[str] | None = None) -> int:
    """Run one command; an error is exactly one line on stderr.

    gpusim's own messages (logger ``gpusim``) print from INFO up, other
    libraries' only from WARNING up (NumExpr's thread count, matplotlib's
    "Animation.save using ..." are INFO).  Python warnings raised by the
    command are held back and printed, one line each, only if it succeeds."""
    logging.basicConfig(level=logging.WARNING, format="gpusim: %(message)s", stream=sys.stderr)
    logging.getLogger("gpusim").setLevel(logging.INFO)
    sys.excepthook, sys.unraisablehook = _excepthook, _unraisablehook
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        rc = _dispatch(argv)
    if rc == 0:
        for w in caught:
            print(f"gpusim: warning: {w.category.__name__}: {w.message}", file=sys.stderr)
    return rc


def _dispatch(argv: list[str] | None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return int(args.func(args) or 0)
    except InputError as err:
        print(f"gpusim: error: {err}", file=sys.stderr)
        return 2
    except WriteError as err:  # disk full & co.: one line, exit 74 (gpusim.io.space)
        print(f"gpusim: error: {err}", file=sys.stderr)
        if err.fatal:  # HDF5 is in a failed state: leave without closing the file (that could crash)
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(err.exit_code)
        return err.exit_code
    except RunInterrupted as err:  # checkpoint written, status "interrupted"
        print(f"gpusim: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("gpusim: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into head & co., which stopped reading: not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
