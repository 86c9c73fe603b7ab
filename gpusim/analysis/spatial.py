"""Spatial statistics of one lattice frame, and the immune phenotype.

Vectorised over whole frames with ``scipy.ndimage`` (distance transforms,
hole filling, connected components); a frame given as a CuPy array is
analysed on its GPU with ``cupyx.scipy.ndimage`` (CuPy is imported only
then).  Frames are C-order (ny, nx) or (nz, ny, nx) arrays as stored in a
run file: ``tumour_clone`` (clone id, 0 = empty) and ``tcells`` (bit 128 =
a T cell).

* **Regions.** The tumour region is the set of tumour cells with enclosed
  holes filled (a killed cell leaves tumour tissue, not stroma).  Every site
  gets a signed distance to the region's boundary (which runs half a site
  outside the outermost tumour cells): the *invasive margin* is the band of
  sites within ``margin_width_um / 2`` of the boundary on either side
  (Galon et al. 2006 use a 1 mm band centred on the border), the *core* is
  the region deeper than that, *outside* is everything further out.
* **T-cell densities** per region, in cells per mm^2 of a section one cell
  thick: T cells / sites / dx^2 (in 3D, the volume density times one
  lattice spacing, what a histological section of cell thickness shows).
* **Distances** from each T cell to the nearest tumour cell (exact
  Euclidean distance transform; 0 for a T cell on a tumour cell's site).
* **Clone mixing**: the fraction of adjacent (face-sharing) pairs of tumour
  cells that belong to the same clone (1 = clones in solid patches; for k
  equally frequent, randomly placed clones about 1/k), and the Shannon
  diversity of clones within windows ``mixing_window_um`` wide (cell-weighted
  mean over windows; compare with the whole tumour's diversity).
* **Size and shape** of the tumour region: equivalent radius, area or
  volume, perimeter or surface, circularity (4 pi A / P^2) or sphericity
  (pi^(1/3) (6V)^(2/3) / S), 1 for a disc or ball.  The perimeter (surface)
  counts lattice faces on the boundary and multiplies by pi/4 (2/3), the
  mean ratio of a smooth curve's (surface's) length (area) to its staircase
  version over all orientations (Cauchy-Crofton), so a digitised disc
  measures close to 2 pi r (circularity 0.95-0.98 for radii of 20-40 sites).
* **Phenotype** (Chen & Mellman 2017): ``desert`` (few T cells in core and
  margin), ``inflamed`` (T cells reach the core), ``excluded`` (T cells held
  at the margin), ``no_core`` (no tumour, or one too small to have a core).

A disc tumour with T cells in a ring around it is excluded:

>>> import numpy as np
>>> from gpusim.config import AnalysisConfig
>>> y, x = np.mgrid[:80, :80]
>>> r = np.hypot(x - 40, y - 40)
>>> clone = (r <= 20).astype(np.uint32)
>>> tcells = np.where((r > 21) & (r < 24) & ((x + y) % 3 == 0), 128, 0).astype(np.uint8)
>>> stats = frame_statistics(clone, tcells, dx_um=10.0, settings=AnalysisConfig())
>>> stats["phenotype"], stats["tcells_core"], stats["tcells_margin"] > 0
('excluded', 0, True)
>>> round(stats["tumour_radius_um"]), round(stats["tumour_circularity"], 2)
(200, 0.95)
"""

from __future__ import annotations

import math

import numpy as np

from ..state import TCELL_PRESENT

OUTSIDE, MARGIN, CORE = 0, 1, 2
REGIONS = {"outside": OUTSIDE, "margin": MARGIN, "core": CORE}
PHENOTYPES = ("inflamed", "excluded", "desert")
NOT_EVALUABLE = "no_core"  # not "n/a": CSV readers take that for a missing value

#: What :func:`frame_statistics` returns: column -> (unit, description).
#: Columns ending in ``_2d``/``_3d`` exist only for frames of that dimension
#: (the suffix is dropped).
COLUMNS: dict[str, tuple[str, str]] = {
    "tumour_cells": ("cells", "tumour cells in the frame"),
    "tcells": ("cells", "T cells in the frame"),
    "tumour_fragments": ("count", "connected pieces of the tumour region (face adjacency)"),
    "tumour_radius_um": ("um", "equivalent radius of the tumour region (disc or ball of equal size)"),
    "tumour_area_um2_2d": ("um^2", "area of the tumour region (2D)"),
    "tumour_perimeter_um_2d": ("um", "perimeter of the tumour region, faces x dx x pi/4 (2D)"),
    "tumour_circularity_2d": ("1", "4 pi area / perimeter^2, 1 for a disc (2D)"),
    "tumour_volume_um3_3d": ("um^3", "volume of the tumour region (3D)"),
    "tumour_surface_um2_3d": ("um^2", "surface of the tumour region, faces x dx^2 x 2/3 (3D)"),
    "tumour_sphericity_3d": ("1", "pi^(1/3) (6 volume)^(2/3) / surface, 1 for a ball (3D)"),
    "tcells_core": ("cells", "T cells in the tumour core"),
    "tcells_margin": ("cells", "T cells in the invasive margin"),
    "tcells_outside": ("cells", "T cells outside the margin"),
    "tcell_density_core_per_mm2": ("1/mm^2", "T cells per mm^2 of a one-cell-thick section, core"),
    "tcell_density_margin_per_mm2": ("1/mm^2", "T cells per mm^2 of a one-cell-thick section, margin"),
    "tcell_density_outside_per_mm2": ("1/mm^2", "T cells per mm^2 of a one-cell-thick section, outside"),
    "core_to_margin_density_ratio": ("1", "core / margin T-cell density (NaN without margin T cells)"),
    "tcell_tumour_distance_mean_um": ("um", "mean distance from a T cell to the nearest tumour cell"),
    "tcell_tumour_distance_median_um": ("um", "median distance from a T cell to the nearest tumour cell"),
    "same_clone_neighbour_fraction": ("1", "adjacent tumour-cell pairs of the same clone / all adjacent pairs"),
    "clone_shannon_window": ("nats", "Shannon diversity of clones per window, cell-weighted mean"),
    "clone_shannon": ("nats", "Shannon diversity of clones over the whole tumour"),
    "phenotype": ("", "immune phenotype: inflamed, excluded, desert, or no_core"),
}


def region_columns(count: str, density: str, what: str) -> dict[str, tuple[str, str]]:
    """Count and density per region of the cells of an agent layer:
    ``<count>_<region>`` and ``<density>_density_<region>_per_mm2``."""
    return {**{f"{count}_{r}": ("cells", f"{what}, {r}") for r in REGIONS},
            **{f"{density}_density_{r}_per_mm2": ("1/mm^2", f"{what} per mm^2 of a one-cell-thick section, {r}")
               for r in REGIONS}}


#: Agent layers counted per region: frame -> (count prefix, density prefix, what).
AGENT_LAYERS = {"tregs": ("tregs", "treg", "regulatory T cells"),
                "myeloid": ("myeloid", "myeloid", "myeloid suppressor cells")}

#: Columns of the microenvironment's layers (:func:`microenvironment_statistics`),
#: present when the run has the layer's frames: layer -> {column: (unit, description)}.
MICRO_COLUMNS: dict[str, dict[str, tuple[str, str]]] = {
    "tregs": {
        **region_columns(*AGENT_LAYERS["tregs"]),
        "cd8_treg_ratio": ("1", "CD8 T cells per regulatory T cell in the frame (NaN without Tregs)"),
        "cd8_treg_ratio_core": ("1", "CD8 per regulatory T cell in the tumour core (NaN without Tregs there)"),
    },
    "myeloid": region_columns(*AGENT_LAYERS["myeloid"]),
    "pdl1_induced": {
        "induced_pdl1_fraction": ("1", "tumour cells with IFN-gamma-induced PD-L1 / tumour cells"),
        "induced_pdl1_near_tcell_ratio": ("1", "fraction of induced-PD-L1 cells within 30 um of a CD8 T cell / "
                                               "that fraction of the other tumour cells (NaN if either is empty)"),
    },
    "necrotic": {
        "necrotic_fraction": ("1", "necrotic sites / (tumour cells + necrotic sites)"),
    },
    "oxygen_deficit": {
        "hypoxic_fraction": ("1", "hypoxic tumour cells (oxygen below oxygen.hypoxia_mmHg) / tumour cells"),
        **{f"hypoxic_fraction_{r}": ("1", f"hypoxic tumour cells / tumour cells, {r} (NaN without tumour cells there)")
           for r in ("core", "margin")},
    },
}
#: "Near a T cell" for induced PD-L1 (the adaptive-resistance criterion of issue 17).
NEAR_TCELL_UM = 30.0


def microenvironment_statistics(clone, tcells, layers: dict, dx_um: float, settings,
                                hypoxic_deficit: float | None = None, coarsening: int = 1) -> dict:
    """The :data:`MICRO_COLUMNS` of the layers in ``layers`` (frame name ->
    this frame's array) for one frame; ``tcells`` as in :func:`frame_statistics`.
    The ``oxygen_deficit`` layer is on the field's grid, ``coarsening`` sites
    per field cell along each axis; a tumour cell is hypoxic where it exceeds
    ``hypoxic_deficit`` (:func:`gpusim.reference.oxygen.hypoxic_deficit`, the kernels'
    float32 comparison).

    A tumour whose left half lies in oxygen-poor field cells (2 x 2 sites each):

    >>> from gpusim.config import AnalysisConfig
    >>> clone = np.zeros((20, 20), np.uint32); clone[5:15, 5:15] = 1
    >>> deficit = np.zeros((10, 10), np.float32); deficit[:, :5] = 30.0
    >>> out = microenvironment_statistics(clone, np.zeros((20, 20), bool), {"oxygen_deficit": deficit}, 10.0,
    ...                                   AnalysisConfig(), hypoxic_deficit=np.float32(23.0), coarsening=2)
    >>> out["hypoxic_fraction"], round(out["hypoxic_fraction_margin"], 2)
    (0.5, 0.5)
    """
    xp, ndi = array_modules(clone)
    tumour = clone > 0
    present = tcells if tcells.dtype == bool else (tcells & TCELL_PRESENT) != 0
    out: dict = {}
    agents = [layer for layer in AGENT_LAYERS if layer in layers]
    grid = regions(tumour, dx_um, settings.margin_width_um) if agents or "oxygen_deficit" in layers else None
    if agents:
        code = grid.ravel().astype(xp.int64)
        per_mm2 = 1.0 / (dx_um / 1000.0) ** 2
        sites = xp.bincount(code, minlength=3)
    region_counts = {}
    for layer in agents:
        count, density, _ = AGENT_LAYERS[layer]
        region_counts[layer] = xp.bincount(code, weights=(layers[layer] != 0).ravel().astype(xp.float64), minlength=3)
        for name, k in REGIONS.items():
            n = region_counts[layer][k]
            out[f"{count}_{name}"] = int(n)
            out[f"{density}_density_{name}_per_mm2"] = float(n) / int(sites[k]) * per_mm2 if int(sites[k]) else math.nan
    if "tregs" in layers:
        tregs, counts = layers["tregs"] != 0, region_counts["tregs"]
        cd8 = xp.bincount(code, weights=present.ravel().astype(xp.float64), minlength=3)
        n_tregs = int(tregs.sum())
        out["cd8_treg_ratio"] = int(present.sum()) / n_tregs if n_tregs else math.nan
        out["cd8_treg_ratio_core"] = float(cd8[CORE]) / float(counts[CORE]) if counts[CORE] else math.nan
    if "pdl1_induced" in layers:
        induced = (layers["pdl1_induced"] != 0) & tumour
        out["induced_pdl1_fraction"] = int(induced.sum()) / int(tumour.sum()) if tumour.any() else math.nan
        if present.any():
            near = ndi.distance_transform_edt(~present, sampling=dx_um) <= NEAR_TCELL_UM
            other = tumour & ~induced
            f_ind = float(near[induced].mean()) if induced.any() else math.nan
            f_other = float(near[other].mean()) if other.any() else math.nan
            out["induced_pdl1_near_tcell_ratio"] = f_ind / f_other if f_other else math.nan
        else:
            out["induced_pdl1_near_tcell_ratio"] = math.nan
    if "necrotic" in layers:
        necrotic = (layers["necrotic"] != 0) & ~tumour
        total = int(tumour.sum()) + int(necrotic.sum())
        out["necrotic_fraction"] = int(necrotic.sum()) / total if total else math.nan
    if "oxygen_deficit" in layers:
        if hypoxic_deficit is None:
            raise ValueError("the oxygen_deficit layer needs hypoxic_deficit (the run's hypoxia threshold)")
        where = xp.nonzero(tumour)
        # each tumour cell reads its field cell, as the kernels do (gpusim.reference.field.field_cell)
        hypoxic = (layers["oxygen_deficit"] > hypoxic_deficit)[tuple(c // coarsening for c in where)]
        cells = xp.bincount(grid[where].astype(xp.int64), minlength=3)
        low = xp.bincount(grid[where].astype(xp.int64), weights=hypoxic.astype(xp.float64), minlength=3)
        out["hypoxic_fraction"] = float(hypoxic.mean()) if hypoxic.size else math.nan
        for name in ("core", "margin"):
            k = REGIONS[name]
            out[f"hypoxic_fraction_{name}"] = float(low[k]) / int(cells[k]) if int(cells[k]) else math.nan
    return out


def columns(dim: int) -> dict[str, tuple[str, str]]:
    """:data:`COLUMNS` for frames of dimension ``dim`` (2 or 3)."""
    keep, drop = f"_{dim}d", f"_{5 - dim}d"
    return {name.removesuffix(keep): meta for name, meta in COLUMNS.items() if not name.endswith(drop)}


def array_modules(a):
    """(xp, ndimage) for ``a``: NumPy and scipy.ndimage, or for a CuPy array
    CuPy and cupyx.scipy.ndimage (imported only then)."""
    if type(a).__module__.split(".")[0] == "cupy":
        import cupy
        import cupyx.scipy.ndimage as ndi

        return cupy, ndi
    import scipy.ndimage as ndi

    return np, ndi


def tumour_region(tumour):
    """The tumour region: tumour sites with enclosed holes filled."""
    _, ndi = array_modules(tumour)
    return ndi.binary_fill_holes(tumour)


def signed_distance_um(region, dx_um: float):
    """Distance of every site from the region's boundary in um: negative
    inside, positive outside; the boundary runs half a site beyond the
    outermost region sites, so those sit at -dx/2 and their outer
    neighbours at +dx/2."""
    xp, ndi = array_modules(region)
    if not bool(region.any()):
        return xp.full(region.shape, xp.inf)
    if bool(region.all()):
        return xp.full(region.shape, -xp.inf)
    inside = ndi.distance_transform_edt(region, sampling=dx_um)
    outside = ndi.distance_transform_edt(~region, sampling=dx_um)
    return xp.where(region, dx_um / 2 - inside, outside - dx_um / 2)


def regions(tumour, dx_um: float, margin_width_um: float):
    """Region code per site: ``CORE`` (2), ``MARGIN`` (1) or ``OUTSIDE`` (0).

    >>> t = np.zeros((1, 30), bool); t[0, :15] = True     # a tumour filling x < 15
    >>> regions(t, 10.0, 60.0)[0].tolist()                 # 30 um either side of x = 14.5
    [2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    """
    xp, _ = array_modules(tumour)
    d = signed_distance_um(tumour_region(tumour), dx_um)
    half = margin_width_um / 2
    code = xp.where(d < -half, CORE, xp.where(d <= half, MARGIN, OUTSIDE))
    return code.astype(xp.int8)


def tcell_tumour_distances_um(tumour, tcells, dx_um: float):
    """Distance (um) from each T cell (C order) to the nearest tumour cell;
    empty when there is no tumour cell.

    >>> t = np.zeros((5, 5), bool); t[2, 2] = True
    >>> c = np.zeros((5, 5), bool); c[2, 2] = c[2, 4] = c[0, 0] = True
    >>> tcell_tumour_distances_um(t, c, 10.0).round(3).tolist()
    [28.284, 0.0, 20.0]
    """
    xp, ndi = array_modules(tumour)
    if not bool(tumour.any()):
        return xp.zeros(0)
    return ndi.distance_transform_edt(~tumour, sampling=dx_um)[tcells]


def _adjacent_pairs(clone):
    """(same-clone pairs, pairs) of face-adjacent tumour cells."""
    same = pairs = 0
    for axis in range(clone.ndim):
        before = (slice(None),) * axis
        a, b = clone[before + (slice(None, -1),)], clone[before + (slice(1, None),)]
        both = (a > 0) & (b > 0)
        pairs += int(both.sum())
        same += int((both & (a == b)).sum())
    return same, pairs


def same_clone_neighbour_fraction(clone) -> float:
    """Fraction of face-adjacent pairs of tumour cells that share a clone
    (NaN without any pair).

    >>> same_clone_neighbour_fraction(np.array([[1, 1, 2, 2]]))     # pairs 1-1, 1-2, 2-2
    0.6666666666666666
    >>> same_clone_neighbour_fraction(np.array([[1, 2], [2, 1]]))   # a checkerboard
    0.0
    """
    same, pairs = _adjacent_pairs(clone)
    return same / pairs if pairs else math.nan


def _shannon(counts, groups, n_groups, xp):
    """Shannon diversity (nats) of each group from (clone count, group) pairs."""
    totals = xp.bincount(groups, weights=counts, minlength=n_groups)
    p = counts / totals[groups]
    return -xp.bincount(groups, weights=p * xp.log(p), minlength=n_groups), totals


def clone_shannon(clone, window_sites: int | None = None):
    """Shannon diversity of the clones (nats): over the whole frame, or, with
    ``window_sites``, in each window of that many sites per axis, as the
    cell-weighted mean over windows (NaN without tumour cells).

    >>> stripes = np.repeat([[1, 1, 2, 2]], 4, axis=0)     # 4x4: two clones in halves
    >>> round(clone_shannon(stripes), 4), clone_shannon(stripes, 2)
    (0.6931, 0.0)
    >>> round(clone_shannon(stripes, 4), 4)
    0.6931
    """
    xp, _ = array_modules(clone)
    flat = xp.flatnonzero(clone)
    if flat.size == 0:
        return math.nan
    if window_sites is None:
        window = xp.zeros(flat.size, dtype=xp.int64)
        n_windows = 1
    else:
        coords = xp.unravel_index(flat, clone.shape)
        n_per_axis = tuple(-(-n // window_sites) for n in clone.shape)
        window = xp.ravel_multi_index(tuple(c // window_sites for c in coords), n_per_axis).astype(xp.int64)
        n_windows = math.prod(n_per_axis)
    span = int(clone.max()) + 1
    keys, counts = xp.unique(window * span + clone.ravel()[flat].astype(xp.int64), return_counts=True)
    h, cells = _shannon(counts.astype(xp.float64), keys // span, n_windows, xp)
    return float((h * cells).sum() / cells.sum())


def boundary_faces(region) -> int:
    """Lattice faces between region sites and the rest (the lattice's own
    border counts as outside)."""
    xp, _ = array_modules(region)
    padded = xp.pad(region, 1)
    return int(sum(int((xp.diff(padded.view(xp.uint8), axis=a) != 0).sum()) for a in range(region.ndim)))


def shape_statistics(region, dx_um: float) -> dict:
    """Size and shape of a region (see the module docstring).

    >>> y, x = np.mgrid[:101, :101]
    >>> s = shape_statistics(np.hypot(x - 50, y - 50) <= 40, 10.0)
    >>> round(s["tumour_radius_um"]), round(s["tumour_perimeter_um"]), round(s["tumour_circularity"], 3)
    (400, 2545, 0.975)
    """
    _, ndi = array_modules(region)
    dim = region.ndim
    sites = int(region.sum())
    faces = boundary_faces(region)
    _, fragments = ndi.label(region)
    size = sites * dx_um**dim
    out = {"tumour_fragments": int(fragments)}
    if dim == 2:
        perimeter = faces * dx_um * math.pi / 4
        out.update(tumour_radius_um=math.sqrt(size / math.pi), tumour_area_um2=size, tumour_perimeter_um=perimeter,
                   tumour_circularity=4 * math.pi * size / perimeter**2 if sites else math.nan)
    else:
        surface = faces * dx_um**2 * 2 / 3
        out.update(tumour_radius_um=(3 * size / (4 * math.pi)) ** (1 / 3), tumour_volume_um3=size,
                   tumour_surface_um2=surface,
                   tumour_sphericity=math.pi ** (1 / 3) * (6 * size) ** (2 / 3) / surface if sites else math.nan)
    return out


def phenotype(core_per_mm2: float, margin_per_mm2: float, settings) -> str:
    """Immune phenotype from core and margin T-cell densities (cells/mm^2);
    NaN core density (no core) gives ``no_core``.

    >>> from gpusim.config import AnalysisConfig
    >>> s = AnalysisConfig()   # desert below 50 /mm^2, inflamed from core/margin 0.5
    >>> [phenotype(c, m, s) for c, m in [(10, 20), (400, 500), (100, 800), (float("nan"), 900)]]
    ['desert', 'inflamed', 'excluded', 'no_core']
    """
    if math.isnan(core_per_mm2):
        return NOT_EVALUABLE
    margin = 0.0 if math.isnan(margin_per_mm2) else margin_per_mm2
    if max(core_per_mm2, margin) < settings.desert_max_tcells_per_mm2:
        return "desert"
    if core_per_mm2 >= settings.inflamed_min_core_to_margin_ratio * margin:
        return "inflamed"
    return "excluded"


def frame_statistics(clone, tcells, dx_um: float, settings) -> dict:
    """Every statistic of one frame (the columns of :func:`columns`):
    ``clone`` tumour clone ids, ``tcells`` the T-cell field (bit 128 =
    present, as stored) or a boolean mask, ``settings`` an
    :class:`~gpusim.config.AnalysisConfig`."""
    xp, _ = array_modules(clone)
    tumour = clone > 0
    present = tcells if tcells.dtype == bool else (tcells & TCELL_PRESENT) != 0
    code = regions(tumour, dx_um, settings.margin_width_um)
    per_mm2 = 1.0 / (dx_um / 1000.0) ** 2  # one T cell per site, in cells per mm^2
    out: dict = {"tumour_cells": int(tumour.sum()), "tcells": int(present.sum())}
    out.update(shape_statistics(tumour_region(tumour), dx_um))
    counts = xp.bincount(code.ravel().astype(xp.int64), weights=present.ravel().astype(xp.float64), minlength=3)
    sites = xp.bincount(code.ravel().astype(xp.int64), minlength=3)
    density = {}
    for name, k in REGIONS.items():
        out[f"tcells_{name}"] = int(counts[k])
        density[name] = float(counts[k]) / int(sites[k]) * per_mm2 if int(sites[k]) else math.nan
        out[f"tcell_density_{name}_per_mm2"] = density[name]
    m = density["margin"]
    out["core_to_margin_density_ratio"] = density["core"] / m if m and not math.isnan(m) else math.nan
    dist = tcell_tumour_distances_um(tumour, present, dx_um)
    out["tcell_tumour_distance_mean_um"] = float(dist.mean()) if dist.size else math.nan
    out["tcell_tumour_distance_median_um"] = float(xp.median(dist)) if dist.size else math.nan
    out["same_clone_neighbour_fraction"] = same_clone_neighbour_fraction(clone)
    window = max(1, round(settings.mixing_window_um / dx_um))
    out["clone_shannon_window"] = clone_shannon(clone, window)
    out["clone_shannon"] = clone_shannon(clone)
    out["phenotype"] = phenotype(density["core"], m, settings) if out["tumour_cells"] else NOT_EVALUABLE
    return {name: out[name] for name in columns(clone.ndim)}
