"""gpusim plot DIR [-o OUT.png]: phase diagram, response rates and waterfall
of a sweep directory.  (Single run files: issue 4.)"""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError


def add_parser(sub) -> None:
    p = sub.add_parser("plot", help="sweep maps: outcome phase diagram, response per arm, waterfall")
    p.add_argument("path", help="sweep directory (DIR of gpusim sweep -o DIR)")
    p.add_argument("-o", "--output", help="PNG to write (default DIR/sweep.png)")
    p.set_defaults(func=main)


def main(args) -> int:
    path = Path(args.path)
    if path.is_dir():
        from ..sweep.plots import plot_dir

        out = plot_dir(path, Path(args.output) if args.output else path / "sweep.png")
        print(out)
        return 0
    if path.exists():
        raise InputError(f"{path}: single-run plots come with issue 4 (give a sweep directory)")
    raise InputError(f"{path}: no such file or directory")
