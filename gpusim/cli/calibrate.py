"""gpusim calibrate SPEC.toml -o DIR [--backend B] [--batch N|auto] [--quick] [--no-plots]"""

from __future__ import annotations

import sys

HELP = """\
Fit parameters to data by ABC-SMC (pyABC): the spec names a base config
(and optional arms), the parameters and their priors, a tidy data table
(arm, time, quantity, value[, sd][, n]) and the ABC settings (README,
"Calibration").  Every generation's simulations run as batched cohorts.
Rerun the same command on the same DIR to continue after a kill: completed
generations are kept, and the posterior is the same as an uninterrupted
run's.  Needs pyABC: pip install 'gpusim[calibrate]'."""


def add_parser(sub) -> None:
    import argparse

    p = sub.add_parser("calibrate", help="fit parameters to data (ABC-SMC with pyABC), generations batched",
                       description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("spec", help="calibration spec TOML file")
    p.add_argument("-o", "--output", metavar="DIR", required=True,
                   help="calibration directory (created; rerun to continue)")
    p.add_argument("--backend", default="auto", help="auto | cuda | cpu | numpy (default auto)")
    p.add_argument("--batch", default="auto", metavar="N|auto",
                   help="runs that advance together (default auto: as many as fit; 1 on numpy)")
    p.add_argument("--quick", action="store_true", help="use the spec's [quick] settings (smaller, faster)")
    p.add_argument("--no-plots", action="store_true", help="write the tables only")
    p.set_defaults(func=main)


def main(args) -> int:
    from pathlib import Path

    from ..batch import parse_batch
    from ..errors import InputError

    try:
        import pyabc  # noqa: F401
    except ImportError:
        raise InputError("gpusim calibrate needs pyABC: pip install 'gpusim[calibrate]'") from None
    import logging

    from ..calibrate.run import calibrate

    logging.getLogger("ABC").setLevel(logging.WARNING)  # our one line per generation replaces pyABC's INFO lines

    summary = calibrate(args.spec, Path(args.output), backend=args.backend, batch=parse_batch(args.batch),
                        quick=args.quick, plots=not args.no_plots)
    covered = [s["covers_truth"] for s in summary.values() if s["covers_truth"] is not None]
    tail = f"; true values inside the credible intervals: {sum(covered)}/{len(covered)}" if covered else ""
    print(f"{args.output}: posterior of {len(summary)} parameters in posterior.csv, summary.csv{tail}",
          file=sys.stdout)
    return 0
