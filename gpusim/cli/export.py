"""gpusim export RUN.h5|DIR --to csv|parquet [-o OUTDIR] [--frame K]"""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError
from ..io.paths import check_output_dir


def add_parser(sub) -> None:
    p = sub.add_parser("export", help="plain tables (CSV or Parquet) of a run file or a sweep directory",
                       description="Observables (one row per step), the occupied sites of one frame, the clone "
                                   "table and /analysis of a run file; or a sweep's summary and every run's "
                                   "observables.  Columns and units: README, 'Export'.")
    p.add_argument("path", help="run file (.h5) or sweep output directory")
    p.add_argument("--to", dest="fmt", default="csv", help="csv (default) or parquet")
    p.add_argument("-o", "--output", help="directory to write into (default: beside the input, <name>_export)")
    p.add_argument("--frame", type=int, default=-1, help="frame index of the per-site table (default -1: the last)")
    p.set_defaults(func=main)


def main(args) -> int:
    from ..analysis.export import FORMATS, export_run, export_sweep

    if args.fmt not in FORMATS:
        raise InputError(f"--to {args.fmt}: must be one of {', '.join(FORMATS)}")
    path = Path(args.path)
    if not path.exists():
        raise InputError(f"{path}: no such file or directory")
    out = Path(args.output) if args.output else path.parent / f"{path.stem if path.is_file() else path.name}_export"
    check_output_dir(out)
    if path.is_dir():
        from ..sweepdir import store

        store.load_runs(path)  # a directory that is not a sweep: one line, before anything is written
        out.mkdir(exist_ok=True)
        written = export_sweep(path, out, args.fmt)
    else:
        from ..analysis import open_run

        open_run(path).close()  # a bad run file: one line, before anything is written
        out.mkdir(exist_ok=True)
        written = export_run(path, out, args.fmt, args.frame)
    for p in written:
        print(p)
    return 0
