"""Reading a run file for analysis: :func:`open_run`.

>>> import gpusim, tempfile, os
>>> cfg = gpusim.Config.model_validate({"lattice": {"shape": [30, 30]}, "simulation": {"steps": 60},
...                                     "output": {"frame_every_steps": 20}})
>>> path = os.path.join(tempfile.mkdtemp(), "run.h5")
>>> _ = gpusim.run_to_file(cfg, path, backend="numpy")
>>> run = gpusim.open_run(path)
>>> run.status, run.shape, run.steps
('complete', (30, 30), 60)
>>> obs = run.observables                      # pandas DataFrame indexed by time (days)
>>> obs.index.name, int(obs["step"].iloc[-1]), bool(obs["tumour_cells"].iloc[-1] > 0)
('time', 60, True)
>>> frames = run.frames("tumour_clone")        # lazy: one frame read per index
>>> len(frames), frames.steps.tolist(), frames[-1].shape
(4, [0, 20, 40, 60], (30, 30))
>>> int((frames[-1] > 0).sum()) == int(obs["tumour_cells"].iloc[-1])
True
>>> int(run.clones.loc[1, "parent"]), run.observables_xarray()["tumour_cells"].dims
(0, ('time',))
>>> run.close()
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from pathlib import Path

import h5py
import numpy as np

from ..config import Config
from ..errors import InputError
from ..io.checkpoint import read_checkpoint
from ..io.reader import open_run_file, read_config, reading, require
from ..io.frames import xdmf_path
from ..state import CLONE_HLA, CLONE_PDL1, State
from . import clonal


def open_run(path: str | Path) -> "Run":
    """Open a run file written by ``gpusim run`` (read-only, lazy).

    Raises :class:`~gpusim.errors.InputError` naming the file when it is
    missing, not HDF5, damaged, or not a gpusim run file."""
    return Run(path)


class Frames(Sequence):
    """The frames of one field; ``frames[k]`` reads frame k (negative k
    counts from the end) from disk as a (ny, nx) or (nz, ny, nx) array."""

    def __init__(self, group: h5py.Group, path: Path):
        self._path = path
        self._value = require(group.file, f"{group.name}/value")
        self.name = group.name.rsplit("/", 1)[-1]
        with reading(path):
            self.steps = require(group.file, f"{group.name}/step")[()]
            self.times = require(group.file, f"{group.name}/time")[()]
        n = min(len(self.steps), len(self.times), self._value.shape[0])  # a file killed mid-frame
        self.steps, self.times = self.steps[:n], self.times[:n]
        self.unit = _text(self._value.attrs.get("unit", ""))

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self._value.shape[1:])

    @property
    def dtype(self) -> np.dtype:
        return self._value.dtype

    def __len__(self) -> int:
        return len(self.steps)

    def __getitem__(self, k):
        if isinstance(k, slice):
            return np.stack([self[i] for i in range(*k.indices(len(self)))]) if len(range(*k.indices(len(self)))) \
                else np.zeros((0, *self.shape), self.dtype)
        n = len(self)
        if not -n <= k < n:
            raise IndexError(f"frame {k} out of range ({n} frames)")
        with reading(self._path):
            return self._value[k % n]

    def at_step(self, step: int) -> np.ndarray:
        """The frame written at ``step`` (KeyError if there is none)."""
        hits = np.flatnonzero(self.steps == step)
        if not len(hits):
            raise KeyError(f"no {self.name} frame at step {step} (frames at {self.steps.tolist()})")
        return self[int(hits[0])]


class Run:
    """A run file opened for analysis; see :func:`open_run`.  Usable as a
    context manager; the HDF5 file stays open (read-only, unlocked) until
    :meth:`close`."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._f = open_run_file(self.path)
        try:
            self.config: Config = read_config(self._f)
        except BaseException:
            self._f.close()
            raise

    # ------------------------------------------------------------- basics
    def close(self) -> None:
        self._f.close()

    def __enter__(self) -> "Run":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<gpusim run {self.path} {self.status} {self.steps} steps>"

    @property
    def file(self) -> h5py.File:
        """The underlying h5py file (read-only)."""
        return self._f

    @property
    def attrs(self) -> dict:
        """Root attributes: status, steps, runtime_s, error, outcome, response, ..."""
        return {k: _text(v) if isinstance(v, (bytes, str)) else v for k, v in self._f.attrs.items()}

    @property
    def parameters(self) -> dict:
        return {k: _text(v) if isinstance(v, (bytes, str)) else v
                for k, v in require(self._f, "parameters").attrs.items()}

    @property
    def status(self) -> str:
        return _text(self._f.attrs.get("status", "unknown"))

    @property
    def backend(self) -> str:
        return str(self.parameters.get("backend", "?"))

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.config.lattice.shape)

    @property
    def steps(self) -> int:
        """The last step with a row of observables."""
        step = self.observables["step"]
        return int(step.iloc[-1]) if len(step) else 0

    @property
    def xdmf(self) -> Path:
        """The XDMF sidecar for ParaView (may not exist for a run without frames)."""
        return xdmf_path(self.path)

    # -------------------------------------------------------- observables
    @cached_property
    def observables(self):
        """pandas DataFrame: one row per recorded step, indexed by ``time``
        (days), with a ``step`` column and one column per observable."""
        import pandas as pd

        group = require(self._f, "observables")
        names = [n for n in group if isinstance(group[n], h5py.Group)]
        if not names:
            raise_missing(self._f, "observables/tumour_cells")
        with reading(self.path):
            cols = {n: require(self._f, f"observables/{n}/value")[()] for n in names}
            step = require(self._f, f"observables/{names[0]}/step")[()]
            time = require(self._f, f"observables/{names[0]}/time")[()]
        n = min(len(step), len(time), *(len(v) for v in cols.values()))  # a file killed mid-write
        df = pd.DataFrame({"step": step[:n], **{k: v[:n] for k, v in cols.items()}},
                          index=pd.Index(time[:n], name="time"))
        for k in cols:
            df[k].attrs.update(self._units(f"observables/{k}"))
        return df

    def observables_xarray(self):
        """The observables as an xarray Dataset with dimension ``time`` (days)
        and a ``step`` coordinate; units and descriptions as attributes."""
        import xarray as xr

        df = self.observables
        ds = xr.Dataset({k: ("time", df[k].to_numpy()) for k in df.columns if k != "step"},
                        coords={"time": ("time", df.index.to_numpy(), {"unit": "day"}),
                                "step": ("time", df["step"].to_numpy())})
        for k in ds.data_vars:
            ds[k].attrs.update(self._units(f"observables/{k}"))
        ds.attrs.update(path=str(self.path), status=self.status, backend=self.backend)
        return ds

    def _units(self, group: str) -> dict:
        g = self._f[group]
        out = {"description": _text(g.attrs.get("description", ""))}
        if "value" in g:
            out["unit"] = _text(g["value"].attrs.get("unit", ""))
        return out

    # ------------------------------------------------------------- fields
    @property
    def fields(self) -> list[str]:
        g = self._f.get("fields")
        return [] if g is None else [n for n in g if isinstance(g[n], h5py.Group)]

    def frames(self, name: str) -> Frames:
        """Lazy access to the frames of field ``name`` (e.g. ``tumour_clone``)."""
        group = self._f.get(f"fields/{name}")
        if not isinstance(group, h5py.Group):
            raise_missing(self._f, f"fields/{name}/value")
        return Frames(group, self.path)

    # ------------------------------------------------------ spatial analysis
    @cached_property
    def analysis(self):
        """Spatial statistics and immune phenotype of every frame
        (:mod:`gpusim.analysis.spatial`), a DataFrame indexed by ``time``
        (days) with a ``step`` column: the file's ``/analysis`` when
        ``gpusim analyse`` stored it for the current frames, else computed
        now with the run config's ``[analysis]`` settings (not stored)."""
        from .table import _frame_pair, analyse_run, read_analysis

        with reading(self.path):
            stored = read_analysis(self._f, _frame_pair(self)[0].steps)
            return stored if stored is not None else analyse_run(self)

    # ------------------------------------------------------------- clones
    @property
    def clones_step(self) -> int:
        """The step the clone table describes: the end of the run, or (for a
        run that did not finish) its last checkpoint."""
        if "clones" in self._f:
            return int(self._f.attrs.get("steps", self.steps))
        return self.checkpoint().step

    @cached_property
    def clones(self):
        """The clone table as a pandas DataFrame indexed by clone ``id`` (row
        0 = no clone, 1 = founder): parent, birth_step, mutations (new at
        founding), mutations_total and neoantigens (acquired, cumulative),
        recognition (uint32 threshold) and ``r`` (probability), flags, ``pdl1``
        and ``hla`` (escape flags as booleans), population (live cells).
        A run that did not finish has no /clones; its last checkpoint's
        table is used instead (see :attr:`clones_step`)."""
        import pandas as pd

        with reading(self.path):
            if "clones" in self._f:
                g = self._f["clones"]
                table = {k: g[k][()] for k in g if isinstance(g[k], h5py.Dataset)}
            elif "checkpoint" in self._f:
                table = {k: np.asarray(v) for k, v in self.checkpoint().clone_table().items()}
                table["id"] = np.arange(len(next(iter(table.values()))), dtype=np.uint32)
            else:
                raise_missing(self._f, "clones")
        ids = table.pop("id", None)
        df = pd.DataFrame(table, index=pd.Index(ids if ids is not None else np.arange(len(table["parent"])),
                                                 name="id"))
        if "recognition" in df:
            df["r"] = df["recognition"] / 2.0**32
        if "flags" in df:
            df["pdl1"] = (df["flags"] & CLONE_PDL1) != 0
            df["hla"] = (df["flags"] & CLONE_HLA) != 0
        return df

    def checkpoint(self) -> State:
        """The state stored for restart (the last checkpoint), on the host."""
        with reading(self.path):
            ckpt = read_checkpoint(self._f)
            if ckpt is None:
                raise_missing(self._f, "checkpoint")
            return ckpt.state

    # ------------------------------------------------------ clonal analysis
    def vaf(self):
        """Variant allele frequency of every acquired mutation (pandas Series
        indexed by the clone id it founded, repeated once per mutation):
        cells of the clone and its descendants / (2 x tumour cells)."""
        import pandas as pd

        c = self.clones
        if "mutations" not in c:
            raise InputError(f"{self.path}: the clone table has no 'mutations' column (a run file from "
                             f"before mutations v2); VAF spectra count mutations")
        v = clonal.variant_allele_frequencies(c["parent"].to_numpy(), c["population"].to_numpy(),
                                              c["mutations"].to_numpy())
        return pd.Series(v, index=np.repeat(c.index[2:], c["mutations"].to_numpy()[2:]), name="vaf")

    def neutral_fit(self, fmin: float = 0.12, fmax: float = 0.24) -> clonal.NeutralFit:
        """Williams et al. (2016) 1/f fit of the cumulative mutation count
        M(f) over [fmin, fmax]: slope (mu/beta) and R^2."""
        return clonal.neutral_fit(self.vaf().to_numpy(), fmin, fmax)


def raise_missing(f: h5py.File, name: str):
    from ..errors import InputError

    raise InputError(f"{f.filename}: missing dataset /{name}")


def _text(v) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)
