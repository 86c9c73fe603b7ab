"""gpusim validate: reproduce published results, write DIR/validation.md."""

from __future__ import annotations


def add_parser(sub) -> None:
    p = sub.add_parser("validate", help="reproduce published results; write DIR/validation.md (exit 1 on a failed criterion)")
    p.add_argument("-o", "--output", required=True, help="folder for validation.md and its figures")
    p.add_argument("--quick", action="store_true", help="smaller cohorts (CI: a few minutes on 2 cores)")
    p.add_argument("--processes", type=int, default=None, help="worker processes (default: the cores available)")
    p.add_argument("--only", action="append", default=None, help="run only this section (repeatable)")
    p.set_defaults(func=main)


def main(args) -> int:
    from ..errors import InputError
    from ..validate import SECTIONS, run_validation

    names = [n for n, _ in SECTIONS]
    for name in args.only or []:
        if name not in names:
            raise InputError(f"--only {name}: no such section (choose from {', '.join(names)})")
    if args.processes is not None and args.processes < 1:
        raise InputError(f"--processes {args.processes}: must be at least 1")
    ok = run_validation(args.output, quick=args.quick, processes=args.processes, only=args.only)
    print(f"{args.output}/validation.md: {'every criterion holds' if ok else 'a criterion FAILED'}")
    return 0 if ok else 1
