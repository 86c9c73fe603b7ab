"""Plain tables for R, pandas and scanpy: ``gpusim export RUN.h5|DIR --to csv|parquet``.

A run file gives (``RUN`` = the file's stem)::

    RUN_observables.csv   one row per recorded step: time_day, step, then one
                          column per observable (units: README, "The run file")
    RUN_cells_step<S>.csv one row per site holding a tumour cell or a T cell in
                          the frame at step S: x, y[, z] (site indices; um =
                          index x dx_um), clone (0 = none), pdl1, hla (the
                          clone's escape flags), tcell (0/1),
                          tcell_exhaustion, tcell_kills_left
    RUN_clones.csv        the clone table: id, parent, birth_step, neoantigens,
                          recognition (uint32 threshold), r, flags, pdl1, hla,
                          population
    RUN_analysis.csv      the stored /analysis table (gpusim analyse), if any

A sweep directory gives ``summary.csv`` (summary.h5's table) and
``observables.csv`` (every run's observables, long format, with run_id and
arm first).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..components import SITE_FRAMES
from ..errors import InputError
from ..state import TCELL_EXHAUSTION_MAX, TCELL_EXHAUSTION_SHIFT, TCELL_KILLS_MASK, TCELL_PRESENT

FORMATS = ("csv", "parquet")


def _write(df, path: Path, fmt: str) -> Path:
    path = path.with_suffix(f".{fmt}")
    if fmt == "csv":
        df.to_csv(path, index=False)
    else:
        df.to_parquet(path, index=False)
    return path


def observables_table(run):
    """The observables with the time as a column, ``time_day``."""
    return run.observables.reset_index().rename(columns={"time": "time_day"})


def cells_table(run, frame: int = -1):
    """One row per occupied site of frame ``frame``; returns (table, step)."""
    import pandas as pd

    clones = run.frames("tumour_clone")
    n = len(clones)
    if not n:
        raise InputError(f"{run.path}: has no lattice frames (output.frame_every_steps = 0?)")
    if not -n <= frame < n:
        raise InputError(f"--frame {frame}: {run.path} has {n} frames")
    clone = clones[frame]
    tc = run.frames("tcells")[frame] if "tcells" in run.fields else np.zeros(clone.shape, np.uint8)
    # Layers of other components (gpusim.components), exported as they are stored.
    others = {name: run.frames(name)[frame].ravel() for name in SITE_FRAMES
              if name not in ("tumour_clone", "tcells") and name in run.fields}
    occupied = np.flatnonzero((clone.ravel() > 0) | ((tc.ravel() & TCELL_PRESENT) != 0)
                              | np.any([v != 0 for v in others.values()], axis=0))
    coords = np.unravel_index(occupied, clone.shape)[::-1]  # C order (z, y, x) -> x, y, z
    table = {axis: c.astype(np.int64) for axis, c in zip("xyz", coords)}
    ids = clone.ravel()[occupied]
    flags = run.clones["flags"].to_numpy() if len(ids) else np.zeros(1, np.uint8)
    flags = flags[np.minimum(ids, len(flags) - 1)] * (ids > 0)
    t = tc.ravel()[occupied]
    from ..state import CLONE_HLA, CLONE_PDL1

    table.update(clone=ids, pdl1=(flags & CLONE_PDL1) != 0, hla=(flags & CLONE_HLA) != 0,
                 tcell=((t & TCELL_PRESENT) != 0).astype(np.uint8),
                 tcell_exhaustion=(t >> TCELL_EXHAUSTION_SHIFT) & TCELL_EXHAUSTION_MAX,
                 tcell_kills_left=t & TCELL_KILLS_MASK, **{name: v[occupied] for name, v in others.items()})
    return pd.DataFrame(table), int(clones.steps[frame])


def export_run(path: str | Path, out_dir: str | Path, fmt: str = "csv", frame: int = -1) -> list[Path]:
    """Write the tables of one run file into ``out_dir``; returns their paths."""
    from ..io.reader import reading
    from .analyse import read_analysis
    from .run import open_run

    path, out_dir = Path(path), Path(out_dir)
    stem = path.stem
    tables = {}  # every table is built before any is written: a bad --frame writes nothing
    with reading(path), open_run(path) as run:
        tables[f"{stem}_observables"] = observables_table(run)
        if "tumour_clone" in run.fields and len(run.frames("tumour_clone")):
            cells, step = cells_table(run, frame)
            tables[f"{stem}_cells_step{step}"] = cells
        tables[f"{stem}_clones"] = run.clones.reset_index()
        if "tumour_clone" in run.fields:
            stored = read_analysis(run.file, run.frames("tumour_clone").steps)
            if stored is not None:
                tables[f"{stem}_analysis"] = stored.reset_index().rename(columns={"time": "time_day"})
    return [_write(df, out_dir / name, fmt) for name, df in tables.items()]


def export_sweep(path: str | Path, out_dir: str | Path, fmt: str = "csv") -> list[Path]:
    """Write a sweep's summary and every run's observables into ``out_dir``."""
    import pandas as pd

    from ..sweepdir import store
    from .sweep_summary import collect
    from .run import open_run

    path, out_dir = Path(path), Path(out_dir)
    summary = collect(path)
    written = [_write(summary, out_dir / "summary", fmt)]
    parts = []
    for row in summary[summary["status"] == "complete"].itertuples():
        with open_run(store.run_path(path, row.run_id)) as run:
            obs = observables_table(run)
        obs.insert(0, "arm", row.arm)
        obs.insert(0, "run_id", row.run_id)
        parts.append(obs)
    if parts:
        written.append(_write(pd.concat(parts, ignore_index=True), out_dir / "observables", fmt))
    return written
