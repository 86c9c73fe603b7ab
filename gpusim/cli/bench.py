"""gpusim bench [--backend B ...] [--size NXxNY[xNZ] ...] [--steps N] [--json] [--profile]"""

from __future__ import annotations

import json
import sys

from ..errors import InputError


def add_parser(sub) -> None:
    p = sub.add_parser("bench", help="site updates per second per backend and lattice size")
    p.add_argument("--backend", action="append", choices=["cuda", "cpu", "numpy"],
                   help="backend to time (repeatable; default: every available one)")
    p.add_argument("--size", action="append", help="lattice NXxNY or NXxNYxNZ (repeatable)")
    p.add_argument("--model", action="append", choices=["tumour", "full"], help="model (repeatable)")
    p.add_argument("--steps", type=int, help="timed steps (default: enough for ~1 s)")
    p.add_argument("--json", action="store_true", help="print a JSON list of records on stdout")
    p.add_argument("--profile", action="store_true",
                   help="per kernel: launches, ms and minimum-traffic bytes per step, against a device copy")
    p.set_defaults(func=main)


def main(args) -> int:
    from ..bench import MODELS, parse_size, run_bench

    try:
        sizes = [parse_size(s) for s in args.size] if args.size else None
    except ValueError as err:
        raise InputError(str(err)) from None
    if args.steps is not None and args.steps < 1:
        raise InputError("--steps must be >= 1")
    if args.backend:
        from ..backends import available

        for b in args.backend:
            if available()[b] is not None:
                raise InputError(f"--backend {b}: not available here: {available()[b]}")
    log = (lambda msg: print(msg, file=sys.stderr)) if args.json else print
    records = run_bench(args.backend, sizes, tuple(args.model or MODELS), args.steps, log=log, profile=args.profile)
    if args.json:
        json.dump(records, sys.stdout, indent=1)
        print()
    return 0
