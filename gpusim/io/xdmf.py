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
>>> write_xdmf(xmf, "run.h5", {"tumour_clone": (grid, np.dtype(np.uint32))}, [0.0, 0.5])
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


def xdmf_text(h5_name: str, fields: dict, times: list[float]) -> str:
    """XDMF 3 text for ``fields`` = {name: (grid, dtype)}, frames at ``times`` (days)."""
    by_grid: dict[tuple, list[str]] = {}
    for name, (grid, _dtype) in fields.items():
        key = (tuple(grid.extents), float(grid.spacing_um), float(grid.origin_um))
        by_grid.setdefault(key, []).append(name)
    n_frames = len(times)
    out = ['<?xml version="1.0" ?>', '<!DOCTYPE Xdmf SYSTEM "Xdmf.dtd" []>', '<Xdmf Version="3.0">', "  <Domain>"]
    for g, (key, names) in enumerate(by_grid.items()):
        extents, spacing, origin = key
        dim = len(extents)
        dims = " ".join(map(str, reversed(extents)))  # slowest axis first: (z,) y, x
        grid_name = "lattice" if g == 0 else f"grid{g}:" + "+".join(names)
        out.append(f'    <Grid Name={quoteattr(grid_name)} GridType="Collection" CollectionType="Temporal">')
        for k, t in enumerate(times):
            out += [
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
                count = " ".join(["1", dims])
                out += [
                    f'        <Attribute Name={quoteattr(name)} AttributeType="Scalar" Center="Node">',
                    f'          <DataItem ItemType="HyperSlab" Dimensions="{dims}">',
                    f'            <DataItem Dimensions="3 {dim + 1}" Format="XML">{start} {stride} {count}</DataItem>',
                    f'            <DataItem Dimensions="{n_frames} {dims}" NumberType="{ntype}" '
                    f'Precision="{precision}" Format="HDF">{h5_name}:/fields/{name}/value</DataItem>',
                    "          </DataItem>",
                    "        </Attribute>",
                ]
            out.append("      </Grid>")
        out.append("    </Grid>")
    out += ["  </Domain>", "</Xdmf>", ""]
    return "\n".join(out)


def write_xdmf(xmf_path: str | Path, h5_name: str, fields: dict, times: list[float]) -> None:
    """Write (atomically: temporary file, then rename) the XDMF file."""
    xmf_path = Path(xmf_path)
    text = xdmf_text(h5_name, fields, times)
    tmp = xmf_path.with_name(f".{xmf_path.name}.{os.getpid()}.tmp")  # open(): the user's umask applies
    try:
        tmp.write_text(text)
        os.replace(tmp, xmf_path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
