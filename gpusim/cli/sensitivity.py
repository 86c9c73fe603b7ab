"""gpusim sensitivity DIR [--output NAME] [-o OUT.png]"""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError
from ..io.paths import check_output

HELP = """\
Sensitivity indices of a sweep's output to each swept parameter, per arm:
Sobol' S1 and ST (SALib) for a sweep with [random] design = "sobol", else
partial rank correlation (PRCC) with p-values (a Latin hypercube, a grid).
Replicates are averaged per parameter point.  --output: a numeric column of
summary.h5 (tumour_change, tumour_cells_final, tcells_final, ...), outcome
(1 = elimination; outcome=escape etc.), response (1 = CR or PR), phenotype
(1 = inflamed; phenotype=excluded etc.), or an observable's final value
(tmb, tcells, ...)."""


def add_parser(sub) -> None:
    import argparse

    p = sub.add_parser("sensitivity", help="Sobol' indices or PRCC of a sweep's output per parameter (SALib)",
                       description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("path", help="sweep output directory")
    p.add_argument("--output", default="outcome", help="what to explain (default outcome: elimination or not)")
    p.add_argument("-o", "--plot", metavar="OUT.png",
                   help="bar chart of the indices (default DIR/sensitivity_<output>.png)")
    p.set_defaults(func=main)


def main(args) -> int:
    import pandas as pd

    from ..analysis.sensitivity import indices, plot

    path = Path(args.path)
    if not path.is_dir():
        raise InputError(f"{path}: not a sweep output directory" + ("" if path.exists() else " (no such directory)"))
    png = Path(args.plot) if args.plot else path / f"sensitivity_{args.output.replace('=', '_')}.png"
    check_output(png)
    table = indices(path, args.output)
    shown = table.drop(columns=["output", "note"], errors="ignore")
    with pd.option_context("display.width", 160, "display.max_columns", 20, "display.float_format", "{:.3f}".format):
        print(f"sensitivity of {args.output} ({shown['method'].iloc[0]}):")
        print(shown.to_string(index=False))
    if "note" in table:
        for arm, note in table.groupby("arm", sort=False)["note"].first().items():
            if note:
                print(f"note: arm {arm}: {note}")
    print(plot(table, png))
    return 0
