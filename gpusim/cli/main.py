"""Entry point: parse arguments, dispatch, turn user errors into one line
and exit code 2."""

from __future__ import annotations

import signal


def _quiet_start(signum, frame):
    raise SystemExit(128 + signum)  # Ctrl-C while Python imports: exit 130, no traceback


if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # (not where SIGINT is ignored or handled)
    signal.signal(signal.SIGINT, _quiet_start)

import argparse  # noqa: E402
import contextlib  # noqa: E402
import logging  # noqa: E402
import logging.handlers  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import warnings  # noqa: E402

from ..errors import InputError, RunInterrupted, WriteError  # noqa: E402
from . import (analyse, bench, calibrate, export, info, plot, resume, run, sensitivity, submit,  # noqa: E402
               summarize, sweep, validate)

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
    if signal.getsignal(signal.SIGINT) is _quiet_start:
        signal.signal(signal.SIGINT, signal.default_int_handler)  # from here: "gpusim: interrupted", 130
    logging.basicConfig(level=logging.WARNING, format="gpusim: %(message)s", stream=sys.stderr)
    sys.excepthook, sys.unraisablehook = _excepthook, _unraisablehook
    with warnings.catch_warnings(record=True) as caught, _notices(argv) as notices:
        warnings.simplefilter("default")
        rc = _dispatch(argv)
        if rc not in (0, 1) and rc < 128:  # an error comes alone: the held-back notices are dropped
            notices.buffer.clear()
    if rc == 0:
        for w in caught:
            print(f"gpusim: warning: {w.category.__name__}: {w.message}", file=sys.stderr)
    return rc


@contextlib.contextmanager
def _notices(argv):
    """gpusim's INFO lines (``backend auto -> cpu ...``) are held until the
    work starts (:func:`gpusim.progress.flush_notices`) or the command
    ends, so an error found first comes alone; warnings pass at once, and
    ``-q`` drops the notices."""
    log = logging.getLogger("gpusim")
    quiet = any(a in ("-q", "--quiet") for a in (sys.argv[1:] if argv is None else argv))
    out = logging.StreamHandler(sys.stderr)
    out.setFormatter(logging.Formatter("gpusim: %(message)s"))
    held = logging.handlers.MemoryHandler(10_000, flushLevel=logging.WARNING, target=out, flushOnClose=True)
    # In place of the root's plain stderr handler (basicConfig's); others
    # (pytest's caplog, a user's) still see every record as it comes.
    root = logging.getLogger()
    plain = [h for h in root.handlers if type(h) is logging.StreamHandler]
    for h in plain:
        root.removeHandler(h)
    root.addHandler(held)
    saved = log.level
    log.setLevel(logging.WARNING if quiet else logging.INFO)
    try:
        yield held
    finally:
        root.removeHandler(held)
        held.close()  # prints what is still held (after a success)
        for h in plain:
            root.addHandler(h)
        log.setLevel(saved)


def _dispatch(argv: list[str] | None) -> int:
    try:
        args = build_parser().parse_args(argv)
        for name in ("output", "movie", "plot"):  # every output option: '' is not "the default name"
            if getattr(args, name, None) == "":
                raise InputError(f"{args.command}: --{name} '': an empty name (give a file or directory)")
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
