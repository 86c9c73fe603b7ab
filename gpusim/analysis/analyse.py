"""Spatial statistics of every frame of a run, stored under ``/analysis``.

``gpusim analyse RUN.h5`` (:func:`write_analysis`) computes
:func:`gpusim.analysis.spatial.frame_statistics` for each lattice frame and
writes one dataset per column::

    /analysis              attrs: settings (the [analysis] table used, TOML),
                           phenotype (of the last frame: the run's end state),
                           gpusim_version
    /analysis/step         int64, the frames' steps
    /analysis/time         float64, days
    /analysis/<column>     one value per frame; attrs unit, description
                           (phenotype: UTF-8 strings)

Nothing else in the file changes, so a run analysed and then resumed is
still byte-identical to one done in one go (``gpusim resume`` drops the
then stale ``/analysis``).  ``gpusim.open_run(...).analysis`` reads it back,
or computes it when the file has none (or a stale one).

>>> import gpusim, tempfile, os
>>> cfg = gpusim.Config.model_validate({"lattice": {"shape": [40, 40]}, "simulation": {"steps": 40},
...                                     "output": {"frame_every_steps": 20}})
>>> path = os.path.join(tempfile.mkdtemp(), "run.h5")
>>> _ = gpusim.run_to_file(cfg, path, backend="numpy")
>>> table = write_analysis(path)
>>> table.index.name, table["step"].tolist(), bool(table["tumour_cells"].iloc[-1] > 0)
('time', [0, 20, 40], True)
>>> with gpusim.open_run(path) as run:
...     bool((run.analysis["tumour_radius_um"] == table["tumour_radius_um"]).all())
True
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from ..config import AnalysisConfig, Config
from ..errors import InputError
from . import spatial
from .table import GROUP, _frame_pair, analyse_run, read_analysis, table_columns  # noqa: F401 (this module's API too)

def settings_toml(settings: AnalysisConfig) -> str:
    import tomli_w

    return tomli_w.dumps(settings.model_dump(mode="json"))


def write_analysis(path: str | Path, settings: AnalysisConfig | None = None):
    """Analyse every frame of the run file ``path`` and store the table
    under ``/analysis`` (replacing an earlier one); returns the table."""
    from ..io.reader import open_for_writing, reading
    from ..io.layout import LIBVER
    from .run import open_run

    path = Path(path)
    with reading(path), open_run(path) as run:
        if run.status == "running":
            raise InputError(f"{path}: the run is not finished (status running); analyse it when it is")
        table = analyse_run(run, settings)
        used = settings or run.config.analysis
    from ..version import __version__

    with reading(path):
        f = open_for_writing(path, LIBVER)
        try:
            if GROUP in f:
                del f[GROUP]
            g = f.create_group(GROUP, track_order=True)
            g.attrs["settings"] = settings_toml(used)
            g.attrs["phenotype"] = str(table["phenotype"].iloc[-1]) if len(table) else spatial.NOT_EVALUABLE
            g.attrs["gpusim_version"] = __version__
            g.create_dataset("step", data=table["step"].to_numpy(np.int64))
            g.create_dataset("time", data=table.index.to_numpy(np.float64)).attrs["unit"] = "day"
            for name, (unit, description) in table_columns(len(run.shape), [
                    layer for layer in spatial.MICRO_COLUMNS if next(iter(spatial.MICRO_COLUMNS[layer])) in table]).items():
                column = table[name]
                data = column.to_numpy(dtype=object if column.dtype == object else None)
                ds = g.create_dataset(name, data=data.astype(h5py.string_dtype()) if data.dtype == object else data)
                ds.attrs["unit"] = unit
                ds.attrs["description"] = description
        finally:
            f.close()
    return table


def end_state(path: str | Path, cfg: Config | None = None) -> dict:
    """Phenotype and core/margin T-cell densities of a run file's last frame
    (read from ``/analysis`` when stored, else computed from that frame);
    ``{}`` when the run has no frames."""
    from .run import open_run

    keys = ("phenotype", "tcell_density_core_per_mm2", "tcell_density_margin_per_mm2")
    with open_run(path) as run:
        try:
            clones, tcells = _frame_pair(run)
        except InputError:
            return {}
        stored = read_analysis(run.file, clones.steps)
        if stored is not None:
            last = stored.iloc[-1]
            return {k: last[k] for k in keys}
        clone = clones[-1]
        t = tcells[-1] if tcells is not None and len(tcells) == len(clones) else np.zeros(clone.shape, bool)
        stats = spatial.frame_statistics(clone, t, run.config.lattice.dx_um, (cfg or run.config).analysis)
        return {k: stats[k] for k in keys}
