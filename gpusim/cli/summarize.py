"""gpusim summarize DIR: outcome and response rates per arm and parameter bin
of a sweep directory.  (Single run files: issue 4.)"""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError


def add_parser(sub) -> None:
    p = sub.add_parser("summarize", help="table of outcomes and metrics (sweep directory)")
    p.add_argument("path", help="sweep directory (DIR of gpusim sweep -o DIR)")
    p.set_defaults(func=main)


def main(args) -> int:
    path = Path(args.path)
    if path.is_dir():
        from ..sweep.summary import summarize_dir

        print(summarize_dir(path))
        return 0
    if path.exists():
        raise InputError(f"{path}: single-run summaries come with issue 4 (give a sweep directory)")
    raise InputError(f"{path}: no such file or directory")
