"""Tissue sections as initial states: ``gpusim run CONFIG --initial FILE``.

A section is read into the state at step 0 in place of the founder ball
(:func:`section_state`), from

* a **cell table** (``.csv``, ``.parquet``): one row per cell with ``x_um``,
  ``y_um`` (and ``z_um`` on a 3D lattice) and ``cell_type``; optional
  ``clone`` (integer >= 1), ``pdl1``, ``hla`` (true/false or 1/0), ``r``
  (recognition probability) or ``recognition`` (its uint32 threshold),
  ``tcell_exhaustion``, ``tcell_kills_left``.  Instead of ``cell_type`` a
  table may carry gpusim's layers, as ``gpusim export`` writes them: a row
  holds a tumour cell where ``clone`` > 0, a T cell where ``tcell`` = 1 and
  a vessel where ``vessel`` = 1.
* an **AnnData** file (``.h5ad``, scanpy/squidpy): positions from
  ``obsm["spatial"]``, the other columns from ``obs`` (same names).  Read
  with h5py, following the AnnData on-disk format (the elements used: a
  dense ``obsm`` array; ``obs`` columns stored as categoricals, nullable,
  string or numeric arrays); the ``anndata`` package itself requires pandas < 3.
* a **label image** (``.tif``/``.tiff``, read with tifffile): a 2D (y, x)
  or 3D (z, y, x) integer array, one class per label value; label 0 is
  background unless ``[initial.cell_types]`` maps it.  Pixel (i, j) is
  centred at (j, i) x ``um_per_unit`` um; each lattice site takes the class
  of the pixel nearest its centre (nearest-neighbour resampling), so no two
  classes compete for a site.

``[initial.cell_types]`` maps the file's names (label values, for images)
to gpusim's kinds: ``tumour``, ``tcell`` (a CD8 T cell), ``vessel`` or
``ignore``; the kind names themselves need no entry.  ``[initial.columns]``
renames columns (gpusim name = the file's name).

Positions: ``value x um_per_unit - origin_um`` in um; site k along an axis
is centred at k x dx_um and covers [(k - 1/2) dx, (k + 1/2) dx), so a point
goes to site floor(um / dx + 1/2) -- the inverse of ``gpusim export``'s
``x_um = x dx_um``.  A point outside the lattice, a missing column, an
unknown cell type, a NaN is an error (one line, nothing written).

Several points on one site: the tumour layer, the T-cell layer and the
vessel layer are independent (a T cell may sit on a tumour cell's site, as
in a simulation); within one layer **the first row in file order wins** and
the others are dropped.  What was read, placed and dropped is printed.

Clones: with a ``clone`` column the ids are kept (a clone's rows must agree
on pdl1, hla and r); without one, tumour cells with the same (pdl1, hla, r)
form a clone, numbered 1, 2, ... in order of first appearance.  Missing
values come from the config: the founder's ``tumour.initial_pdl1``,
``initial_hla_loss``, ``initial_recognition``; a T cell has exhaustion 0
and ``immune.kills_per_tcell`` kills; every tumour cell gets the founders'
cell byte (stem, or ``tumour.max_divisions`` divisions left).

>>> import os, tempfile
>>> import pandas as pd
>>> from gpusim.config import Config
>>> d = tempfile.mkdtemp()
>>> path = os.path.join(d, "section.csv")
>>> pd.DataFrame({"x_um": [100.0, 104.0, 110.0, 30.0], "y_um": [100.0, 98.0, 100.0, 40.0],
...               "cell_type": ["Tumor", "Tumor", "CD8", "CD31"]}).to_csv(path, index=False)
>>> cfg = Config.model_validate({"lattice": {"shape": [24, 24]}, "initial": {"file": path,
...     "cell_types": {"Tumor": "tumour", "CD8": "tcell", "CD31": "vessel"}, "vessels": "section"}})
>>> st, report = section_state(cfg)
>>> int((st.sites["clone"] > 0).sum()), int((st.sites["tcell"] > 0).sum()), int(st.sites["vessel"].sum())
(1, 1, 1)
>>> report.dropped
{'tumour': 1}
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .config import SECTION_KINDS, Config, InitialConfig, file_sha256
from .errors import InputError
from .state import (
    CLONE_COLUMNS,
    CLONE_HLA,
    CLONE_PDL1,
    TCELL_EXHAUSTION_MAX,
    TCELL_EXHAUSTION_SHIFT,
    TCELL_KILLS_MASK,
    TCELL_PRESENT,
    State,
    clone_capacity,
    initial_params,
    initial_state,
)

log = logging.getLogger("gpusim")

SUFFIXES = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".h5ad": "h5ad", ".tif": "tiff", ".tiff": "tiff"}
AXES = ("x_um", "y_um", "z_um")
LAYERS = ("tumour", "tcell", "vessel")
#: Most clone ids a section may use: a clone table of this many rows is
#: ~30 bytes each (or 4 per site, if more).
MAX_CLONE_ID = 1 << 22


@dataclass
class Report:
    """What a section gave: rows (or image pixels) read, cells placed per
    layer, points dropped per kind (on an occupied site, or mapped to
    ``ignore``)."""

    file: str
    rows: int
    placed: dict[str, int]
    dropped: dict[str, int] = field(default_factory=dict)

    def line(self) -> str:
        placed = ", ".join(f"{n} {k}" for k, n in self.placed.items())
        drop = sum(self.dropped.values())
        why = ", ".join(f"{n} {k}" for k, n in self.dropped.items())
        return (f"{Path(self.file).name}: {self.rows} read; placed {placed}; dropped {drop}"
                + (f" ({why})" if drop else ""))


def section_state(cfg: Config) -> tuple[State, Report]:
    """The state at step 0 of ``cfg`` from its ``[initial]`` section, and
    what was placed and dropped (:class:`Report`)."""
    ini = cfg.initial
    if ini is None:
        raise ValueError("section_state: the config has no [initial] section")
    if ini.file is None:
        raise InputError("[initial] names no file: give one with --initial FILE (or initial.file)")
    fmt = _format(ini)
    stamp = _stamp(ini.file)  # part of the cache key: a file changed since is read (and checked) again
    if fmt == "tiff":
        layers, report = _image_layers(cfg, _read_image(ini.file, ini.sha256, stamp))
    else:
        table = (_read_h5ad(ini.file, ini.sha256, stamp) if fmt == "h5ad"
                 else _read_table(ini.file, ini.sha256, stamp, fmt))
        layers, report = _table_layers(cfg, table.rename(columns={v: k for k, v in ini.columns.items()}))
    return _assemble(cfg, layers), report


def load_section(cfg: Config) -> State | None:
    """The section's state for a run of ``cfg`` (None without ``[initial]``),
    its report printed once per file and lattice."""
    if cfg.initial is None:
        return None
    state, report = section_state(cfg)
    key = (cfg.initial.sha256, tuple(cfg.lattice.shape), cfg.lattice.dx_um, cfg.initial.model_dump_json())
    if key not in _reported:
        _reported.add(key)
        # Points lost are a warning (shown under -q too); a clean read is a notice.
        (log.warning if sum(report.dropped.values()) else log.info)(report.line())
    return state


_reported: set = set()


def with_initial(cfg: Config, path: str | Path) -> Config:
    """``cfg`` starting from the section ``path`` (``--initial``): its
    ``[initial]`` settings kept (mapping, scaling), the file and hash replaced.

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "cells.csv")
    >>> _ = open(path, "w").write("x_um,y_um,cell_type\\n0,0,tumour\\n")
    >>> cfg = with_initial(Config(), path)
    >>> cfg.initial.file == os.path.realpath(path), len(cfg.initial.sha256)
    (True, 64)
    """
    from .config import validate

    data = cfg.model_dump(mode="json")
    data["initial"] = {**(data.get("initial") or {}), "file": str(path), "sha256": None}
    return validate(data, "--initial")


# --------------------------------------------------------------------------
# Reading files (cached by hash and modification time: a sweep reads its section once)


def _format(ini: InitialConfig) -> str:
    if ini.format != "auto":
        return ini.format
    fmt = SUFFIXES.get(Path(ini.file).suffix.lower())
    if fmt is None:
        raise InputError(f"{ini.file}: unknown section format (suffix {Path(ini.file).suffix!r}); "
                         f"use {', '.join(SUFFIXES)} or set initial.format")
    return fmt


def _stamp(path: str) -> tuple:
    try:
        st = Path(path).stat()
    except OSError:
        return ()  # _checked says what is wrong
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def _checked(path: str, sha256: str | None) -> Path:
    p = Path(path)
    try:
        actual = file_sha256(p)
    except ValueError as err:
        raise InputError(str(err)) from None
    if sha256 is not None and actual != sha256:
        raise InputError(f"{path}: the file changed since the config was made (sha256 {actual[:12]}..., "
                         f"expected {sha256[:12]}...)")
    return p


@functools.lru_cache(maxsize=4)
def _read_table(path: str, sha256: str | None, stamp: tuple, fmt: str):
    import pandas as pd

    p = _checked(path, sha256)
    try:
        table = pd.read_csv(p) if fmt == "csv" else pd.read_parquet(p)
    except Exception as err:  # parser errors come in many types; the message names the problem
        raise InputError(f"{path}: cannot read as {fmt}: {err.__class__.__name__}: {_first_line(err)}") from None
    return table


@functools.lru_cache(maxsize=4)
def _read_h5ad(path: str, sha256: str | None, stamp: tuple):
    import h5py
    import pandas as pd

    p = _checked(path, sha256)
    try:
        with h5py.File(p, "r", locking=False) as f:
            if "obsm/spatial" not in f:
                raise InputError(f"{path}: no obsm['spatial'] (cell positions) in this AnnData file")
            xyz = np.asarray(f["obsm/spatial"][()])
            obs = f.get("obs")
            columns = {}
            if obs is not None:
                for name in obs:
                    if name != obs.attrs.get("_index", "_index"):
                        columns[name] = _h5ad_column(obs[name], f"{path}: obs/{name}")
    except OSError as err:
        raise InputError(f"{path}: not an HDF5/AnnData file ({_first_line(err)})") from None
    if xyz.ndim != 2 or xyz.shape[1] not in (2, 3):
        raise InputError(f"{path}: obsm['spatial'] has shape {xyz.shape}; expected (cells, 2) or (cells, 3)")
    table = pd.DataFrame({AXES[i]: xyz[:, i].astype(np.float64) for i in range(xyz.shape[1])})
    for name, values in columns.items():
        if len(values) != len(table):
            raise InputError(f"{path}: obs/{name} has {len(values)} values for {len(table)} cells")
        if name not in table:
            table[name] = values
    return table


def _h5ad_column(node, where: str):
    """One ``obs`` column of the AnnData on-disk format: a categorical group
    (codes, categories; code -1 = missing) or a plain array (numbers,
    strings)."""
    import h5py

    if isinstance(node, h5py.Group):
        encoding = node.attrs.get("encoding-type")
        if str(encoding).startswith("nullable-") and "values" in node and "mask" in node:
            values = _decoded(node["values"][()]).astype(object)
            values[node["mask"][()].astype(bool)] = None
            return values
        if encoding != "categorical" or "codes" not in node or "categories" not in node:
            raise InputError(f"{where}: unsupported AnnData element (encoding {encoding!r})")
        codes = node["codes"][()].astype(np.int64)
        categories = _decoded(node["categories"][()])
        values = np.asarray(categories, dtype=object)[np.maximum(codes, 0)]
        values[codes < 0] = None
        return values
    return _decoded(node[()])


def _decoded(values):
    values = np.asarray(values)
    if values.dtype.kind in "OS":
        return np.array([v.decode() if isinstance(v, bytes) else v for v in values], dtype=object)
    return values


@functools.lru_cache(maxsize=4)
def _read_image(path: str, sha256: str | None, stamp: tuple) -> np.ndarray:
    try:
        import tifffile
    except ImportError:
        raise InputError(f"{path}: reading TIFF label images needs tifffile: pip install 'gpusim[tissue]'") from None
    p = _checked(path, sha256)
    try:
        image = tifffile.imread(p)
    except Exception as err:  # tifffile raises several types for a corrupt file
        raise InputError(f"{path}: cannot read as TIFF: {err.__class__.__name__}: {_first_line(err)}") from None
    image = np.squeeze(image)
    if image.ndim not in (2, 3) or image.dtype.kind not in "iu":
        raise InputError(f"{path}: a label image is a 2D or 3D integer array (got {image.ndim}D {image.dtype})")
    return image


def _first_line(err: Exception) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else ""


# --------------------------------------------------------------------------
# Placing points on the lattice


@dataclass
class Layers:
    """Placed cells: per layer the sites (and per tumour site its clone id,
    per T-cell site its byte), plus the clone table's known rows."""

    tumour_sites: np.ndarray
    tumour_clone: np.ndarray
    tcell_sites: np.ndarray
    tcell_byte: np.ndarray
    vessel_sites: np.ndarray
    clone_recognition: dict[int, int]
    clone_flags: dict[int, int]


def _table_layers(cfg: Config, table) -> tuple[Layers, Report]:
    ini = cfg.initial
    where = Path(ini.file).name
    dim = cfg.lattice.dim
    axes = AXES[:dim]
    for axis in axes:
        if axis not in table:
            raise InputError(f"{where}: no column {axis!r} (columns: {', '.join(map(str, table.columns))}); "
                             "name yours with [initial.columns]")
    if dim == 2 and "z_um" in table:
        raise InputError(f"{where}: has z_um but the lattice is 2D (lattice.shape has 2 extents)")
    n = len(table)
    kind = _kinds(table, ini, where)
    sites = _sites(cfg, table, axes, where)
    dropped: dict[str, int] = {}
    ignored = kind == "ignore"
    if ignored.any():
        dropped["ignored"] = int(ignored.sum())

    rows = {layer: np.flatnonzero(_in_layer(table, kind, layer, where)) for layer in LAYERS}
    if len(rows["tcell"]) and not cfg.immune.enabled:
        raise InputError(f"{where}: {len(rows['tcell'])} T cells, but immune.enabled = false")
    kept = {}
    for layer, r in rows.items():  # first row in file order wins a site
        _, first = np.unique(sites[r], return_index=True)
        kept[layer] = r[np.sort(first)]
        if len(r) > len(first):
            dropped[layer] = len(r) - len(first)

    t_rows = kept["tumour"]
    clone, recognition, flags = _clones(cfg, table, rows["tumour"], t_rows, where)
    tc_rows = kept["tcell"]
    exhaustion = _ints(table, "tcell_exhaustion", tc_rows, 0, TCELL_EXHAUSTION_MAX, where, 0)
    kills = _ints(table, "tcell_kills_left", tc_rows, 0, TCELL_KILLS_MASK, where, cfg.immune.kills_per_tcell)
    tbyte = (TCELL_PRESENT | (exhaustion << TCELL_EXHAUSTION_SHIFT) | kills).astype(np.uint8)
    layers = Layers(sites[t_rows], clone, sites[tc_rows], tbyte, sites[kept["vessel"]], recognition, flags)
    placed = {"tumour": len(t_rows), "tcell": len(tc_rows), "vessel": len(kept["vessel"])}
    return layers, Report(ini.file, n, placed, dropped)


def _kinds(table, ini: InitialConfig, where: str) -> np.ndarray:
    """Each row's kind (tumour, tcell, vessel, ignore); ``layers`` for a
    table in gpusim's layer form (no cell_type column)."""
    if "cell_type" not in table:
        if "clone" in table or "tcell" in table:
            return np.full(len(table), "layers", dtype=object)
        raise InputError(f"{where}: no column 'cell_type' (columns: {', '.join(map(str, table.columns))}); "
                         "name yours with [initial.columns] cell_type = \"...\"")
    names = table["cell_type"]
    if names.isna().any():
        row = int(np.flatnonzero(names.isna().to_numpy())[0])
        raise InputError(f"{where}: row {row + 1}: cell_type is missing")
    names = names.astype(str).to_numpy(dtype=object)
    mapping = {k: k for k in SECTION_KINDS} | dict(ini.cell_types)
    unknown = sorted(set(names) - set(mapping))
    if unknown:
        counts = {u: int((names == u).sum()) for u in unknown[:5]}
        listed = ", ".join(f"{u!r} ({c} rows)" for u, c in counts.items())
        more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
        raise InputError(f"{where}: unknown cell type {listed}{more}; map it in [initial.cell_types] "
                         f"to one of {', '.join(SECTION_KINDS)}")
    return np.array([mapping[v] for v in names], dtype=object)


def _in_layer(table, kind: np.ndarray, layer: str, where: str) -> np.ndarray:
    mask = kind == layer
    columns = {"tumour": "clone", "tcell": "tcell", "vessel": "vessel"}
    layered = kind == "layers"
    if layered.any() and columns[layer] in table:
        values = _numbers(table, columns[layer], where)
        mask = mask | (layered & (values > 0))
    return mask


def _numbers(table, name: str, where: str) -> np.ndarray:
    """Column ``name`` as float64 (booleans as 0/1); a NaN or text is an error."""
    column = table[name]
    if column.dtype == bool:
        return column.to_numpy(np.float64)
    values = column.to_numpy()
    if values.dtype.kind not in "iufb":
        lowered = column.astype(str).str.strip().str.lower()
        mapped = lowered.map({"true": 1.0, "false": 0.0, "yes": 1.0, "no": 0.0})
        numeric = np.array([_to_float(v) for v in lowered], dtype=np.float64)
        values = np.where(mapped.notna().to_numpy(), mapped.to_numpy(np.float64, na_value=np.nan), numeric)
    values = values.astype(np.float64)
    bad = np.flatnonzero(~np.isfinite(values))
    if len(bad):
        raise InputError(f"{where}: row {bad[0] + 1}: {name} is {column.iloc[bad[0]]!r}, not a finite number"
                         + (f" (and {len(bad) - 1} more rows)" if len(bad) > 1 else ""))
    return values


def _to_float(v: str) -> float:
    try:
        return float(v)
    except ValueError:
        return np.nan


def _sites(cfg: Config, table, axes, where: str) -> np.ndarray:
    ini = cfg.initial
    dx = cfg.lattice.dx_um
    origin = list(ini.origin_um) or [0.0] * len(axes)
    if len(origin) != len(axes):
        raise InputError(f"initial.origin_um: {len(origin)} values for a {len(axes)}D lattice")
    index = np.zeros(len(table), dtype=np.int64)
    stride = 1
    outside = np.zeros(len(table), dtype=bool)
    ks = []
    for a, axis in enumerate(axes):
        um = _numbers(table, axis, where) * ini.um_per_unit - origin[a]
        k = np.floor(um / dx + 0.5)
        outside |= (k < 0) | (k >= cfg.lattice.shape[a])
        ks.append(k)
    if outside.any():
        row = int(np.flatnonzero(outside)[0])
        pos = ", ".join(f"{axis}={table[axis].iloc[row]}" for axis in axes)
        span = " x ".join(f"[{-dx / 2:g}, {(n - 0.5) * dx:g})" for n in cfg.lattice.shape)
        count = int(outside.sum())
        raise InputError(f"{where}: {count} point{'s' if count > 1 else ''} outside the lattice (first: row "
                         f"{row + 1}, {pos}); the lattice covers {span} um after um_per_unit and origin_um: "
                         "set initial.origin_um, initial.um_per_unit or lattice.shape")
    for a, k in enumerate(ks):
        index += k.astype(np.int64) * stride
        stride *= cfg.lattice.shape[a]
    return index


def _ints(table, name: str, rows: np.ndarray, lo: int, hi: int, where: str, default: int) -> np.ndarray:
    if name not in table:
        return np.full(len(rows), default, dtype=np.int64)
    values = _numbers(table.iloc[rows], name, where)
    bad = np.flatnonzero((values != np.floor(values)) | (values < lo) | (values > hi))
    if len(bad):
        raise InputError(f"{where}: row {rows[bad[0]] + 1}: {name} {values[bad[0]]:g} is not an integer in "
                         f"[{lo}, {hi}]")
    return values.astype(np.int64)


def _clones(cfg: Config, table, all_rows: np.ndarray, rows: np.ndarray, where: str):
    """Clone ids of the placed tumour rows ``rows``, and each clone's
    recognition threshold and flags (checked over every tumour row,
    ``all_rows``, placed or not)."""
    from .params import thresholds

    ip = initial_params(cfg)
    n = len(all_rows)
    sub = table.iloc[all_rows]
    pdl1 = _numbers(sub, "pdl1", where) != 0 if "pdl1" in table else np.full(n, bool(ip.founder_flags & CLONE_PDL1))
    hla = _numbers(sub, "hla", where) != 0 if "hla" in table else np.full(n, bool(ip.founder_flags & CLONE_HLA))
    if "recognition" in table:
        rec = _numbers(sub, "recognition", where)
        bad = np.flatnonzero((rec != np.floor(rec)) | (rec < 0) | (rec >= 2**32))
        if len(bad):
            raise InputError(f"{where}: row {all_rows[bad[0]] + 1}: recognition {rec[bad[0]]:g} is not a uint32 "
                             "threshold (use r for a probability)")
        rec = rec.astype(np.uint32)
    elif "r" in table:
        r = _numbers(sub, "r", where)
        bad = np.flatnonzero((r < 0) | (r > 1))
        if len(bad):
            raise InputError(f"{where}: row {all_rows[bad[0]] + 1}: r {r[bad[0]]:g} is outside [0, 1]")
        rec = thresholds(r)
    else:
        rec = np.full(n, ip.founder_recognition, dtype=np.uint32)
    flags = (pdl1 * CLONE_PDL1 | hla * CLONE_HLA).astype(np.uint8)
    if "clone" in table:
        ids = _numbers(sub, "clone", where)
        limit = max(MAX_CLONE_ID, 4 * cfg.lattice.n_sites)
        bad = np.flatnonzero((ids != np.floor(ids)) | (ids < 1) | (ids >= limit))
        if len(bad):
            raise InputError(f"{where}: row {all_rows[bad[0]] + 1}: clone {ids[bad[0]]:g} is not an integer in "
                             f"[1, {limit - 1}]")
        ids = ids.astype(np.int64)
    else:  # clones = distinct (pdl1, hla, r), numbered in order of first appearance
        keys = flags.astype(np.int64) << 32 | rec.astype(np.int64)
        _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
        order = np.argsort(first, kind="stable")
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(1, len(order) + 1)
        ids = rank[inverse]
    recognition, clone_flags = {}, {}
    for i in range(n):  # the first row of a clone states its values; the others must agree
        c = int(ids[i])
        if c not in recognition:
            recognition[c], clone_flags[c] = int(rec[i]), int(flags[i])
        elif recognition[c] != int(rec[i]) or clone_flags[c] != int(flags[i]):
            raise InputError(f"{where}: row {all_rows[i] + 1}: clone {c} has pdl1/hla/r different from its "
                             "first row (a clone's cells share them)")
    position = np.searchsorted(all_rows, rows)
    return ids[position].astype(np.uint32), recognition, clone_flags


def _image_layers(cfg: Config, image: np.ndarray) -> tuple[Layers, Report]:
    ini = cfg.initial
    where = Path(ini.file).name
    dim = cfg.lattice.dim
    if image.ndim != dim:
        raise InputError(f"{where}: a {image.ndim}D image for a {dim}D lattice")
    mapping = {str(k): k for k in SECTION_KINDS} | dict(ini.cell_types)
    labels, pixels = np.unique(image, return_counts=True)
    kinds = {}
    for value in labels.tolist():
        if str(value) in mapping:
            kinds[value] = mapping[str(value)]
        elif value == 0:
            kinds[value] = "ignore"  # background
        else:
            raise InputError(f"{where}: label {value} ({int(pixels[labels == value][0])} pixels) has no class; "
                             f"map it in [initial.cell_types] (\"{value}\" = tumour, tcell, vessel or ignore)")
    dx = cfg.lattice.dx_um
    origin = list(ini.origin_um) or [0.0] * dim
    if len(origin) != dim:
        raise InputError(f"initial.origin_um: {len(origin)} values for a {dim}D lattice")
    shape_xyz = image.shape[::-1]  # image axes (z,) y, x -> x, y(, z)
    # Every pixel of a class must land on the lattice (as a table's points must).
    used = np.isin(image, [v for v, k in kinds.items() if k != "ignore"])
    for a in range(dim):
        coords = np.arange(shape_xyz[a]) * ini.um_per_unit - origin[a]
        k = np.floor(coords / dx + 0.5)
        out = used.any(axis=tuple(i for i in range(dim) if i != dim - 1 - a)) & ((k < 0) | (k >= cfg.lattice.shape[a]))
        if out.any():
            raise InputError(f"{where}: labelled pixels outside the lattice along {AXES[a][0]} (pixel "
                             f"{int(np.flatnonzero(out)[0])} is at {coords[out][0]:g} um; the lattice covers "
                             f"[{-dx / 2:g}, {(cfg.lattice.shape[a] - 0.5) * dx:g}) um): set initial.origin_um, "
                             "initial.um_per_unit or lattice.shape")
    # Nearest pixel to each site centre (k dx + origin) / um_per_unit.
    index = []
    for a in range(dim):
        p = np.floor((np.arange(cfg.lattice.shape[a]) * dx + origin[a]) / ini.um_per_unit + 0.5).astype(np.int64)
        index.append(p)
    grids = np.meshgrid(*index[::-1], indexing="ij")  # C order (z,) y, x
    inside = np.ones(grids[0].shape, dtype=bool)
    for g, n in zip(grids, image.shape):
        inside &= (g >= 0) & (g < n)
    sampled = np.zeros(grids[0].shape, dtype=image.dtype)
    sampled[inside] = image[tuple(g[inside] for g in grids)]
    flat = sampled.ravel()
    kind_of = np.array([kinds.get(v, "ignore") for v in labels.tolist()], dtype=object)
    site_kind = kind_of[np.searchsorted(labels, flat)] if len(labels) else np.full(len(flat), "ignore", object)
    site_kind[~inside.ravel()] = "ignore"
    sites = {layer: np.flatnonzero(site_kind == layer) for layer in LAYERS}
    if len(sites["tcell"]) and not cfg.immune.enabled:
        raise InputError(f"{where}: {len(sites['tcell'])} T-cell sites, but immune.enabled = false")
    ip = initial_params(cfg)
    tbyte = np.full(len(sites["tcell"]), TCELL_PRESENT | cfg.immune.kills_per_tcell, dtype=np.uint8)
    layers = Layers(sites["tumour"], np.ones(len(sites["tumour"]), np.uint32), sites["tcell"], tbyte,
                    sites["vessel"], {1: ip.founder_recognition}, {1: ip.founder_flags})
    placed = {layer: len(s) for layer, s in sites.items()}
    ignored = int(sum(int(c) for v, c in zip(labels.tolist(), pixels) if kinds[v] == "ignore" and v != 0))
    return layers, Report(ini.file, int(used.sum()) + ignored, placed, {"ignored": ignored} if ignored else {})


def _assemble(cfg: Config, layers: Layers) -> State:
    """The State at step 0: the config's own initial state (vessels drawn
    from immune.vessel_density, chemokine zero, every other component's
    layers as the config makes them) with its founder ball replaced by the
    section's layers."""
    ini = cfg.initial
    if cfg.immune.enabled and cfg.immune.initial_tcells:
        raise InputError("immune.initial_tcells places random T cells; with [initial] the section places them "
                         "(set immune.initial_tcells = 0)")
    base = cfg.model_copy(update={"tumour": cfg.tumour.model_copy(update={"initial_radius_cells": 0.0})})
    state = initial_state(base)  # radius 0 still founds the centre site: cleared below
    sites = state.sites
    sites["clone"][:] = 0
    sites["cell"][:] = 0
    if ini.vessels == "section":
        sites["vessel"][:] = 0
    sites["vessel"][layers.vessel_sites] = 1
    sites["clone"][layers.tumour_sites] = layers.tumour_clone
    sites["cell"][layers.tumour_sites] = initial_params(cfg).init_cell
    sites["tcell"][layers.tcell_sites] = layers.tcell_byte
    n_clones = max(layers.clone_recognition, default=0) + 1
    n_clones = max(n_clones, 2)  # row 1 (the founder) exists in every clone table
    cap = clone_capacity(16, n_clones)
    clones = {name: np.zeros(cap, dtype=dt) for name, dt in CLONE_COLUMNS.items()}
    for c, rec in layers.clone_recognition.items():
        clones["recognition"][c] = rec
        clones["flags"][c] = layers.clone_flags[c]
    clones["population"][: n_clones] = np.bincount(layers.tumour_clone, minlength=n_clones)[:n_clones]
    clones["population"][0] = 0
    return State(step=0, n_clones=n_clones, sites=sites, clones=clones, extra=state.extra)
