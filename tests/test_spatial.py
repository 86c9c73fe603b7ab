"""gpusim.analysis.spatial on constructed lattices with known answers (2D
and 3D): regions, T-cell densities and the immune phenotype, distances,
clone mixing, tumour size and shape."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gpusim.analysis import spatial
from gpusim.config import AnalysisConfig

DX = 10.0  # um; one T cell per site = 10^4 cells per mm^2
SETTINGS = AnalysisConfig()  # margin 60 um (3 sites either side), desert < 50 /mm^2, inflamed from ratio 0.5


def disc(n: int, radius: float, dim: int = 2):
    """A tumour disc (ball) of one clone at the centre of an n^dim lattice, and r per site."""
    grids = np.indices((n,) * dim)
    r = np.sqrt(sum((g - n // 2) ** 2 for g in grids))
    return (r <= radius).astype(np.uint32), r


def tcells(mask) -> np.ndarray:
    return np.where(mask, 128 | 5, 0).astype(np.uint8)  # present, 5 kills left


@pytest.mark.parametrize("dim,n,radius", [(2, 80, 20), (3, 36, 11)])
def test_phenotypes_of_a_disc_tumour(dim, n, radius):
    clone, r = disc(n, radius, dim)
    parity = np.indices(clone.shape).sum(axis=0) % 2 == 0
    ring = tcells((r > radius) & (r < radius + 2.5) & parity)   # just outside the tumour, inside the margin
    spread = tcells(parity)                                     # everywhere, tumour included
    cases = {"excluded": ring, "inflamed": spread, "desert": np.zeros_like(ring)}
    for expected, t in cases.items():
        stats = spatial.frame_statistics(clone, t, DX, SETTINGS)
        assert stats["phenotype"] == expected, (expected, stats)
    ring_stats = spatial.frame_statistics(clone, ring, DX, SETTINGS)
    assert ring_stats["tcells_core"] == 0 and ring_stats["tcells_outside"] == 0
    assert ring_stats["tcells_margin"] == int((ring > 0).sum())
    spread_stats = spatial.frame_statistics(clone, spread, DX, SETTINGS)
    # Every other site holds a T cell: 5000 per mm^2 in each region (parity splits each region in half, +-1 row).
    for region in ("core", "margin", "outside"):
        assert spread_stats[f"tcell_density_{region}_per_mm2"] == pytest.approx(5000, rel=0.03)
    desert = spatial.frame_statistics(clone, np.zeros_like(ring), DX, SETTINGS)
    assert desert["tcells"] == 0 and desert["tcell_density_core_per_mm2"] == 0
    assert math.isnan(desert["tcell_tumour_distance_mean_um"])


def test_a_few_tcells_are_a_desert_and_the_thresholds_come_from_the_settings():
    clone, r = disc(80, 20)
    one = tcells((r > 20) & (r < 21.5) & (np.indices(clone.shape)[0] == 40))  # two cells on the margin ring
    stats = spatial.frame_statistics(clone, one, DX, SETTINGS)
    margin_sites = int((spatial.regions(clone > 0, DX, SETTINGS.margin_width_um) == spatial.MARGIN).sum())
    assert stats["tcell_density_margin_per_mm2"] == pytest.approx(2 / margin_sites * 1e4)
    assert stats["tcell_density_margin_per_mm2"] < 50 and stats["phenotype"] == "desert"
    strict = SETTINGS.model_copy(update={"desert_max_tcells_per_mm2": 1.0})
    assert spatial.frame_statistics(clone, one, DX, strict)["phenotype"] == "excluded"
    lenient = strict.model_copy(update={"inflamed_min_core_to_margin_ratio": 0.0})
    assert spatial.frame_statistics(clone, one, DX, lenient)["phenotype"] == "inflamed"


def test_no_tumour_or_no_core_is_not_evaluable():
    empty = np.zeros((30, 30), np.uint32)
    assert spatial.frame_statistics(empty, tcells(np.ones((30, 30), bool)), DX, SETTINGS)["phenotype"] == spatial.NOT_EVALUABLE
    small, _ = disc(30, 2)  # radius 25 um: every tumour site is within 30 um of the boundary
    stats = spatial.frame_statistics(small, tcells(np.ones((30, 30), bool)), DX, SETTINGS)
    assert stats["phenotype"] == spatial.NOT_EVALUABLE and math.isnan(stats["tcell_density_core_per_mm2"])


@pytest.mark.parametrize("dim", [2, 3])
def test_regions_are_bands_of_the_stated_width_around_a_flat_boundary(dim):
    shape = (4,) * (dim - 1) + (30,)
    tumour = np.zeros(shape, bool)
    tumour[..., :15] = True  # boundary at x = 14.5 sites
    code = spatial.regions(tumour, DX, 80.0)  # 40 um either side: x = 11..18 inclusive
    expected = np.where(np.arange(30) < 11, 2, np.where(np.arange(30) <= 18, 1, 0))
    assert (code == expected).all()


def test_holes_left_by_killed_cells_stay_tumour():
    clone, _ = disc(60, 20)
    holed = clone.copy()
    holed[28:33, 28:33] = 0
    assert (spatial.regions(holed > 0, DX, 60.0) == spatial.regions(clone > 0, DX, 60.0)).all()


def test_distances_from_tcells_to_the_nearest_tumour_cell():
    clone, _ = disc(80, 20)  # edge cells at x = 20 and x = 60 on row 40
    t = np.zeros(clone.shape, bool)
    t[40, 65] = True   # 5 sites right of (40, 60)
    t[40, 40] = True   # on a tumour cell
    t[40, 13] = True   # 7 sites left of (40, 20)
    d = spatial.tcell_tumour_distances_um(clone > 0, t, DX)
    assert d.tolist() == [70.0, 0.0, 50.0]  # C order: x = 13, 40, 65
    stats = spatial.frame_statistics(clone, tcells(t), DX, SETTINGS)
    assert stats["tcell_tumour_distance_mean_um"] == pytest.approx(40.0)
    assert stats["tcell_tumour_distance_median_um"] == 50.0
    ball, _ = disc(21, 5, dim=3)  # 3D: a T cell 3 sites beyond the pole at z = 15
    t3 = np.zeros(ball.shape, bool)
    t3[18, 10, 10] = True
    assert spatial.tcell_tumour_distances_um(ball > 0, t3, DX).tolist() == [30.0]


def test_same_clone_neighbour_fraction_known_answers():
    halves = np.ones((10, 10), np.uint32)
    halves[:, 5:] = 2
    # 2 * 10 * 9 = 180 adjacent pairs; the 10 across the cut differ.
    assert spatial.same_clone_neighbour_fraction(halves) == pytest.approx(170 / 180)
    checker = (np.indices((10, 10)).sum(axis=0) % 2 + 1).astype(np.uint32)
    assert spatial.same_clone_neighbour_fraction(checker) == 0.0
    assert spatial.same_clone_neighbour_fraction(np.ones((6, 6, 6), np.uint32)) == 1.0
    rng = np.random.default_rng(0)
    mixed = rng.integers(1, 5, (100, 100)).astype(np.uint32)  # 4 clones, well mixed: about 1/4
    assert spatial.same_clone_neighbour_fraction(mixed) == pytest.approx(0.25, abs=0.01)
    gaps = np.array([[1, 0, 1, 1, 0, 2]], np.uint32)  # empty sites break pairs: only 1-1
    assert spatial.same_clone_neighbour_fraction(gaps) == 1.0
    assert math.isnan(spatial.same_clone_neighbour_fraction(np.array([[1, 0, 2]])))


def test_shannon_diversity_per_window_known_answers():
    quadrants = np.ones((20, 20), np.uint32)
    quadrants[:10, 10:] = 2
    quadrants[10:, :10] = 3
    quadrants[10:, 10:] = 4
    assert spatial.clone_shannon(quadrants) == pytest.approx(math.log(4))
    assert spatial.clone_shannon(quadrants, 10) == 0.0        # each window holds one clone
    assert spatial.clone_shannon(quadrants, 20) == pytest.approx(math.log(4))
    checker = (np.indices((20, 20, 20)).sum(axis=0) % 2 + 1).astype(np.uint32)
    assert spatial.clone_shannon(checker, 2) == pytest.approx(math.log(2))
    # windows weighted by their cells: one window (5 cells, 1 clone), one (10 cells, 2 clones evenly)
    part = np.zeros((10, 20), np.uint32)
    part[0, :5] = 1
    part[0, 10:15] = 1
    part[1, 10:15] = 2
    assert spatial.clone_shannon(part, 10) == pytest.approx(10 / 15 * math.log(2))
    assert math.isnan(spatial.clone_shannon(np.zeros((5, 5), np.uint32), 2))


def test_size_and_shape():
    clone, _ = disc(101, 40)
    s = spatial.shape_statistics(clone > 0, DX)
    assert s["tumour_area_um2"] == int(clone.sum()) * 100
    assert s["tumour_radius_um"] == pytest.approx(400, rel=0.01)
    assert s["tumour_perimeter_um"] == pytest.approx(2 * math.pi * 400, rel=0.02)
    assert 0.95 < s["tumour_circularity"] < 1.0 and s["tumour_fragments"] == 1
    bar = np.zeros((40, 100), bool)
    bar[15:25, 10:90] = True  # 10 x 80 sites: faces 180, circularity 4 pi 800 / (180 pi / 4)^2 = 0.503
    b = spatial.shape_statistics(bar, DX)
    assert b["tumour_perimeter_um"] == pytest.approx(180 * DX * math.pi / 4)
    assert b["tumour_circularity"] == pytest.approx(4 * math.pi * 800 / (180 * math.pi / 4) ** 2)
    two = np.zeros((40, 100), bool)
    two[5:15, 5:15] = two[20:30, 50:60] = True
    assert spatial.shape_statistics(two, DX)["tumour_fragments"] == 2
    ball, _ = disc(41, 15, dim=3)
    s3 = spatial.shape_statistics(ball > 0, DX)
    assert s3["tumour_volume_um3"] == int(ball.sum()) * 1000
    assert s3["tumour_radius_um"] == pytest.approx(150, rel=0.01)
    assert s3["tumour_surface_um2"] == pytest.approx(4 * math.pi * 150**2, rel=0.03)
    assert 0.95 < s3["tumour_sphericity"] < 1.05


def test_columns_match_the_declared_ones_in_2d_and_3d():
    for dim, n in ((2, 30), (3, 12)):
        clone, _ = disc(n, 4, dim)
        stats = spatial.frame_statistics(clone, np.zeros(clone.shape, np.uint8), DX, SETTINGS)
        assert list(stats) == list(spatial.columns(dim))
    assert "tumour_circularity" in spatial.columns(2) and "tumour_sphericity" in spatial.columns(3)


@pytest.mark.gpu
def test_cupy_frames_give_the_numpy_answer():
    from conftest import require_backend

    require_backend("cuda")
    import cupy

    clone, r = disc(64, 15)
    rng = np.random.default_rng(1)
    clone = np.where(clone > 0, rng.integers(1, 4, clone.shape), 0).astype(np.uint32)
    t = tcells((rng.random(clone.shape) < 0.1) & (r < 25))
    host = spatial.frame_statistics(clone, t, DX, SETTINGS)
    device = spatial.frame_statistics(cupy.asarray(clone), cupy.asarray(t), DX, SETTINGS)
    assert device.keys() == host.keys()
    for k, v in host.items():
        assert device[k] == (v if isinstance(v, str) else pytest.approx(v, nan_ok=True)), k


def test_microenvironment_statistics_of_a_synthetic_frame():
    """Tregs per region and the CD8/Treg ratio; induced PD-L1 next to T
    cells; the necrotic fraction -- on a frame built by hand."""
    from gpusim.analysis.spatial import microenvironment_statistics
    from gpusim.config import AnalysisConfig

    n = 60
    y, x = np.mgrid[:n, :n]
    r = np.hypot(x - 29.5, y - 29.5)
    clone = np.where(r < 20, 1, 0).astype(np.uint32)
    necrotic = ((r < 5) & True).astype(np.uint8)
    clone[r < 5] = 0
    tcells = np.zeros((n, n), np.uint8)
    tcells[30, 10:14] = 128  # four CD8 T cells inside the tumour, left side
    tregs = np.zeros((n, n), np.uint8)
    tregs[30, 40] = 1  # one Treg in the core
    tregs[0, 0] = 1  # one far outside
    induced = np.zeros((n, n), np.uint8)
    induced[28:33, 9:16] = 1  # the cells around the T cells
    myeloid = np.zeros((n, n), np.uint8)
    myeloid[29:31, 29:31] = 1  # four myeloid cells at the centre (the core: 1 mm^2 / 100 per site)
    out = microenvironment_statistics(clone, tcells, {"tregs": tregs, "pdl1_induced": induced, "myeloid": myeloid,
                                                      "necrotic": necrotic}, 10.0, AnalysisConfig())
    assert out["tregs_outside"] == 1 and out["tregs_core"] + out["tregs_margin"] == 1
    assert (out["myeloid_core"], out["myeloid_margin"], out["myeloid_outside"]) == (4, 0, 0)
    core_sites = 4 * 1e4 / out["myeloid_density_core_per_mm2"]
    assert out["treg_density_core_per_mm2"] == pytest.approx(out["tregs_core"] * 1e4 / core_sites)
    assert out["cd8_treg_ratio"] == 2.0
    assert out["induced_pdl1_fraction"] == pytest.approx(int((induced & (clone > 0)).sum()) / int((clone > 0).sum()))
    assert out["induced_pdl1_near_tcell_ratio"] > 3
    assert out["necrotic_fraction"] == pytest.approx(int(necrotic.sum()) / (int((clone > 0).sum()) + int(necrotic.sum())))
