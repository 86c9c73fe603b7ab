"""The XDMF sidecar (``RUN.xmf``) that lets ParaView/VisIt open a run's
fields over time.

One temporal collection per distinct grid (the cell lattice, and e.g. a
coarser chemokine grid); each time step is a uniform 2DCoRectMesh or
3DCoRectMesh whose attributes are hyperslabs of ``RUN.h5:/fields/<name>/value``
(one frame each).  Values sit on the points of the mesh (``Center="Node"``):
point k of a grid is at ``origin_um + k * spacing_um`` along every axis, so
lattice site (x, y) is at (x dx, y dx).  Origin and spacing are isotropic,
which keeps the file independent of the XDMF readers' disagreement over
whether ORIGIN_DXDYDZ lists x first or z first.

The file is small and rewritten (to a temporary name, then renamed) every
time frames are appended, so it matches the HDF5 file even after a crash.

>>> from types import SimpleNamespace as NS
>>> import tempfile, os, xml.etree.ElementTree as ET
>>> grid = NS(extents=(4, 3), spacing_um=10.0, origin_um=0.0)
>>> xmf = os.path.join(tempfile.mkdtemp(), "run.xmf")
>>> XdmfWriter(xmf, "run.h5").write({"tumour_clone": (grid, np.dtype(np.uint32))}, [0.0, 0.5])
>>> ET.parse(xmf).getroot().find(".//DataItem[@Format='HDF']").text
'run.h5:/fields/tumour_clone/value'
"""

from __future__ import annotations

import os
from pathlib import Path
from xml.sax.saxutils import quoteattr

import numpy as np

_NUMBER_TYPES = {"f": "Float", "u": "UInt", "i": "Int", "b": "UChar"}
_SMALL_INTS = {("u", 1): "UChar", ("i", 1): "Char", ("u", 2): "UShort", ("i", 2): "Short"}


def number_type(dtype: np.dtype) -> tuple[str, int]:
    """(XDMF NumberType, Precision) of a NumPy dtype."""
    dtype = np.dtype(dtype)
    name = _SMALL_INTS.get((dtype.kind, dtype.itemsize), _NUMBER_TYPES.get(dtype.kind))
    if name is None:
        raise ValueError(f"no XDMF number type for {dtype}")
    return name, dtype.itemsize


_COUNT = "\x00"  # stands for the number of frames in cached frame blocks


def _grids(fields: dict) -> list[tuple[tuple, list[str]]]:
    by_grid: dict[tuple, list[str]] = {}
    for name, (grid, _dtype) in fields.items():
        key = (tuple(grid.extents), float(grid.spacing_um), float(grid.origin_um))
        by_grid.setdefault(key, []).append(name)
    return list(by_grid.items())


def _frame_block(h5_name: str, fields: dict, key: tuple, names: list[str], k: int, t: float) -> str:
    extents, spacing, origin = key
    dim = len(extents)
    dims = " ".join(map(str, reversed(extents)))  # slowest axis first: (z,) y, x
    out = [
        f'      <Grid Name="frame {k}" GridType="Uniform">',
        f'        <Time Value="{t!r}"/>',
        f'        <Topology TopologyType="{dim}DCoRectMesh" Dimensions="{dims}"/>',
        f'        <Geometry GeometryType="ORIGIN_{"DXDYDZ" if dim == 3 else "DXDY"}">',
        f'          <DataItem Name="Origin" Dimensions="{dim}" NumberType="Float" Precision="8" '
        f'Format="XML">{" ".join([repr(origin)] * dim)}</DataItem>',
        f'          <DataItem Name="Spacing" Dimensions="{dim}" NumberType="Float" Precision="8" '
        f'Format="XML">{" ".join([repr(spacing)] * dim)}</DataItem>',
        "        </Geometry>",
    ]
    for name in names:
        ntype, precision = number_type(fields[name][1])
        start = " ".join([str(k)] + ["0"] * dim)
        stride = " ".join(["1"] * (dim + 1))
        out += [
            f'        <Attribute Name={quoteattr(name)} AttributeType="Scalar" Center="Node">',
            f'          <DataItem ItemType="HyperSlab" Dimensions="{dims}">',
            f'            <DataItem Dimensions="3 {dim + 1}" Format="XML">{start} {stride} 1 {dims}</DataItem>',
            f'            <DataItem Dimensions="{_COUNT} {dims}" NumberType="{ntype}" '
            f'Precision="{precision}" Format="HDF">{h5_name}:/fields/{name}/value</DataItem>',
            "          </DataItem>",
            "        </Attribute>",
        ]
    out.append("      </Grid>\n")
    return "\n".join(out)


class XdmfWriter:
    """Writes the XDMF file of one run again and again as frames are added;
    frame blocks are cached, so a rewrite costs a string join, not a
    re-format of every frame."""

    def __init__(self, xmf_path: str | Path, h5_name: str):
        self.xmf_path = Path(xmf_path)
        self.h5_name = h5_name
        self._signature = None
        self._blocks: list[list[str]] = []  # per grid, per frame
        self._times: list[float] = []

    def text(self, fields: dict, times: list[float]) -> str:
        """XDMF text for ``fields`` = {name: (grid, dtype)}, frames at ``times`` (days)."""
        grids = _grids(fields)
        signature = (tuple((k, tuple(n)) for k, n in grids), tuple((n, str(d)) for n, (_, d) in fields.items()))
        if signature != self._signature:
            self._signature, self._blocks, self._times = signature, [[] for _ in grids], []
        keep = 0
        while keep < min(len(times), len(self._times)) and times[keep] == self._times[keep]:
            keep += 1
        for g, (key, names) in enumerate(grids):
            blocks = self._blocks[g]
            del blocks[keep:]
            blocks += [_frame_block(self.h5_name, fields, key, names, k, times[k]) for k in range(keep, len(times))]
        self._times = list(times)
        out = ['<?xml version="1.0" ?>\n<!DOCTYPE Xdmf SYSTEM "Xdmf.dtd" []>\n<Xdmf Version="3.0">\n  <Domain>\n']
        for g, (key, names) in enumerate(grids):
            grid_name = "lattice" if g == 0 else f"grid{g}:" + "+".join(names)
            out.append(f'    <Grid Name={quoteattr(grid_name)} GridType="Collection" CollectionType="Temporal">\n')
            out += self._blocks[g]
            out.append("    </Grid>\n")
        out.append("  </Domain>\n</Xdmf>\n")
        return "".join(out).replace(_COUNT, str(len(times)))

    def write(self, fields: dict, times: list[float]) -> None:
        """Write (atomically: temporary file, then rename) the XDMF file."""
        text = self.text(fields, times)
        tmp = self.xmf_path.with_name(f".{self.xmf_path.name}.{os.getpid()}.tmp")  # open(): the umask applies
        try:
            tmp.write_text(text)
            os.replace(tmp, self.xmf_path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

