"""gpusim analyse RUN.h5 [--set analysis.KEY=VALUE ...]"""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError

HELP = """\
Spatial statistics and immune phenotype of every lattice frame of a run:
tumour core / invasive margin / outside regions, T-cell density in each
(cells per mm^2), distance of T cells to the tumour, clone mixing, tumour
radius, surface and shape; phenotype inflamed / excluded / desert.  Stored
under /analysis in the run file (nothing else in it changes) and read back
by gpusim.open_run(...).analysis.  Settings: the run config's [analysis]
table, or --set analysis.KEY=VALUE."""

SHOWN = ("tumour_cells", "tcells", "tumour_radius_um", "tcell_density_core_per_mm2",
         "tcell_density_margin_per_mm2", "same_clone_neighbour_fraction", "phenotype")


def add_parser(sub) -> None:
    import argparse

    p = sub.add_parser("analyse", help="spatial statistics and immune phenotype per frame (stored under /analysis)",
                       description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", help="run file (.h5) with lattice frames")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="analysis.KEY=VALUE",
                   help="override an [analysis] setting, e.g. --set analysis.margin_width_um=100")
    p.add_argument("--plot", metavar="OUT.png", help="also draw regions, densities and phenotype per frame, mixing")
    p.add_argument("--frame", type=int, default=-1, help="frame shown with --plot (default -1: the last)")
    p.add_argument("-q", "--quiet", action="store_true", help="print only the end-state phenotype")
    p.set_defaults(func=main)


def settings_from(path: Path, overrides: list[str]):
    """The run config's [analysis] settings with ``--set analysis.*`` applied."""
    from ..analysis import open_run
    from ..config import apply_overrides

    for item in overrides:
        if not item.split("=", 1)[0].strip().startswith("analysis."):
            raise InputError(f"--set {item}: gpusim analyse takes only analysis.* settings")
    with open_run(path) as run:
        cfg = run.config
    return apply_overrides(cfg, overrides).analysis if overrides else cfg.analysis


def main(args) -> int:
    import pandas as pd

    from ..analysis.analyse import write_analysis
    from ..analysis.spatial import NOT_EVALUABLE

    from ..io.paths import probe_output, writing
    from ..io.layout import LIBVER
    from ..io.reader import open_for_writing

    path = Path(args.run)
    if args.plot:  # every output checked before anything is written (the run file's /analysis included)
        probe_output(args.plot)
    settings = settings_from(path, args.overrides)
    open_for_writing(path, LIBVER).close()  # a read-only or locked run file: one line, nothing written
    if args.plot:
        from ..analysis import open_run

        with open_run(path) as run:
            n = len(run.frames("tumour_clone")) if "tumour_clone" in run.fields else 0
        if n and not -n <= args.frame < n:
            raise InputError(f"--frame {args.frame}: {path} has {n} frames")
    table = write_analysis(path, settings)
    end = table["phenotype"].iloc[-1] if len(table) else NOT_EVALUABLE
    if not args.quiet:
        shown = [c for c in SHOWN if c in table]
        with pd.option_context("display.width", 160, "display.max_columns", 20, "display.float_format", "{:.4g}".format):
            print(table[["step", *shown]].to_string())
    print(f"{path}: {len(table)} frames analysed into /analysis; end-state phenotype {end}")
    if args.plot:
        from ..analysis import open_run
        from ..plots.spatial import save_spatial_figure

        with open_run(path) as run, writing(args.plot):
            print(save_spatial_figure(run, args.plot, table, args.frame))
    return 0
