"""The per-frame table of spatial statistics: computed from an open run,
or read back from the run file's ``/analysis`` group (written by
:func:`gpusim.analysis.analyse.write_analysis`).  Below both
:mod:`gpusim.analysis.run` (``Run.analysis``) and
:mod:`gpusim.analysis.analyse`, so neither imports the other's importer."""

from __future__ import annotations

import h5py
import numpy as np

from ..config import AnalysisConfig
from ..errors import InputError
from . import spatial

GROUP = "analysis"


def _frame_pair(run):
    """The tumour and T-cell frames of a run (T cells may be absent)."""
    clones = run.frames("tumour_clone") if "tumour_clone" in run.fields else []
    if not len(clones):
        raise InputError(f"{run.path}: has no lattice frames (output.frame_every_steps = 0?)")
    tcells = run.frames("tcells") if "tcells" in run.fields else None
    return clones, tcells


def analyse_run(run, settings: AnalysisConfig | None = None):
    """Per-frame statistics of an open run (:class:`gpusim.analysis.run.Run`)
    as a pandas DataFrame indexed by ``time`` (days), with a ``step`` column;
    ``settings`` default to the run config's ``[analysis]``."""
    import pandas as pd

    settings = settings or run.config.analysis
    clones, tcells = _frame_pair(run)
    dx = run.config.lattice.dx_um
    layers = {name: run.frames(name) for name in spatial.MICRO_COLUMNS if name in run.fields}
    oxygen = oxygen_settings(run.config) if "oxygen_deficit" in layers else {}
    rows = []
    for k in range(len(clones)):
        clone = clones[k]
        t = tcells[k] if tcells is not None and k < len(tcells) else np.zeros(clone.shape, bool)
        rows.append(spatial.frame_statistics(clone, t, dx, settings))
        here = {name: frames[k] for name, frames in layers.items() if k < len(frames)}
        rows[-1].update(spatial.microenvironment_statistics(clone, t, here, dx, settings, **oxygen))
    names = list(table_columns(len(clones.shape), layers))
    df = pd.DataFrame(rows, columns=names, index=pd.Index(clones.times, name="time"))
    df.insert(0, "step", clones.steps)
    return df


def oxygen_settings(cfg) -> dict:
    """The run's hypoxia threshold and the oxygen field's coarsening, as
    :func:`spatial.microenvironment_statistics` takes them."""
    from ..reference.oxygen import hypoxic_deficit

    return {"hypoxic_deficit": hypoxic_deficit(cfg.oxygen), "coarsening": cfg.chemokine.grid_coarsening}


def table_columns(dim: int, layers) -> dict[str, tuple[str, str]]:
    """The columns of a run's table: :func:`spatial.columns` and the
    microenvironment's of the layers the run has."""
    return {**spatial.columns(dim), **{k: v for name in layers for k, v in spatial.MICRO_COLUMNS[name].items()}}


def read_analysis(f: h5py.File, frame_steps: np.ndarray):
    """The stored ``/analysis`` table, or None when there is none or it does
    not describe the frames ``frame_steps`` (a resumed or extended run)."""
    import pandas as pd

    g = f.get(GROUP)
    if not isinstance(g, h5py.Group) or "step" not in g:
        return None
    steps = g["step"][()]
    if not np.array_equal(steps, frame_steps):
        return None
    cols = {"step": steps}
    for name in g:
        if name not in ("step", "time"):
            v = g[name][()]
            cols[name] = v.astype(str) if v.dtype.kind in "OS" else v
    return pd.DataFrame(cols, index=pd.Index(g["time"][()], name="time"))
