"""Each rule against what it must do: mutation counts are Poisson,
neoantigens a binomial fraction of them, T cells walk at the configured
speed, the chemokine spreads as the heat kernel.  The tests
(tests/test_tumour.py, test_tcell.py, test_chemokine.py) use the same
functions with their own tolerances."""

from __future__ import annotations

import numpy as np

from ..config import Config
from ..simulation import Simulation
from ..state import TCELL_PRESENT, initial_state
from .report import Section, figure


def mutation_config(mu: float, fraction: float, seed: int) -> Config:
    """A fast-dividing, dying tumour on a periodic lattice without immunity:
    > 10^4 divisions in 360 one-hour steps."""
    return Config.model_validate({
        "simulation": {"seed": seed, "steps": 360, "dt_minutes": 60},
        "lattice": {"shape": [72, 72], "boundary": "periodic"},
        "tumour": {"initial_radius_cells": 4, "division_rate_per_day": 4, "death_rate_per_day": 1,
                   "stem_symmetric_division_prob": 1.0, "mutations_per_division": mu,
                   "neoantigen_fraction": fraction, "pdl1_prob_per_division": 0.02,
                   "hla_loss_prob_per_division": 0.01},
        "immune": {"enabled": False},
    })


def mutation_counts(mu: float, fraction: float, seed: int, backend: str = "cpu") -> dict:
    """Divisions D, and the new mutations k and neoantigens per division
    read from the clone table (a daughter with k = 0 and no escape founds no
    clone: it is one of the D divisions with k = 0).  z scores: mean of k
    (Var = mu / D), variance of k (Var = (mu + 2 mu^2) / D for a Poisson
    law), neoantigens (Binomial(sum k, fraction))."""
    cfg = mutation_config(mu, fraction, seed)
    sim = Simulation(cfg, backend=backend)
    divisions = sum(sim.step()["divisions"] for _ in range(cfg.simulation.steps))
    st = sim.state()
    t = st.clone_table()
    ids = np.arange(2, st.n_clones)
    k = t["mutations"][ids].astype(np.int64)
    neo = int((t["neoantigens"][ids] - t["neoantigens"][t["parent"][ids]]).sum())
    mean = k.sum() / divisions
    var = (k**2).sum() / divisions - mean**2
    n = int(k.sum())
    histogram = np.bincount(k, minlength=6)[:6].astype(np.int64)
    histogram[0] = divisions - int((k > 0).sum())
    return {"divisions": divisions, "mean": mean, "var": var, "mutations": n, "neoantigens": neo,
            "z_mean": (mean - mu) / np.sqrt(mu / divisions),
            "z_var": (var - mu) / np.sqrt((mu + 2 * mu**2) / divisions),
            "z_neo": (neo - n * fraction) / np.sqrt(n * fraction * (1 - fraction)), "histogram": histogram}


def poisson_section(out, quick: bool) -> Section:
    from scipy.stats import poisson

    import matplotlib.pyplot as plt

    cases = [(0.3, 0.25), (2.5, 0.6)]
    results = [mutation_counts(mu, f, seed=4) for mu, f in cases]
    ok = all(abs(r[z]) < 4 for r in results for z in ("z_mean", "z_var", "z_neo")) and \
        all(r["divisions"] >= 10_000 for r in results)
    fig, axes = plt.subplots(1, 2, figsize=(8, 3))
    for ax, (mu, f), r in zip(axes, cases, results):
        k = np.arange(6)
        ax.bar(k - 0.2, r["histogram"] / r["divisions"], width=0.4, label="gpusim")
        ax.bar(k + 0.2, poisson.pmf(k, mu), width=0.4, label=f"Poisson({mu})")
        ax.set(xlabel="new mutations per division k", ylabel="fraction of divisions", yscale="log",
               title=f"mu = {mu}")
        ax.legend()
    numbers = [f"mu = {mu}, fraction = {f}: {r['divisions']} divisions, mean k {r['mean']:.4f} "
               f"(z = {r['z_mean']:+.2f}), variance {r['var']:.4f} (z = {r['z_var']:+.2f}); "
               f"{r['neoantigens']} of {r['mutations']} mutations neoantigens (z = {r['z_neo']:+.2f})"
               for (mu, f), r in zip(cases, results)]
    return Section(
        "Mutations per division are Poisson",
        "Mutations arise at a constant rate per division, so their number per division is Poisson "
        "(Luria & Delbrueck 1943; the neutral-evolution model of Williams et al. 2016, Nat Genet 48:238); "
        "a fixed fraction of them are neoantigens (Lakatos et al. 2020, Nat Genet 52:1057).",
        "|z| < 4 for the mean and the variance of k and for the neoantigen count, over >= 10^4 divisions, "
        "at two mutation rates.", ok, numbers, figure(out / "validation_poisson.png", fig))


def msd_per_step(neighbourhood: str, moves: float, backend: str = "cpu", rounds: int = 12) -> float:
    """Mean squared displacement per step (in sites^2) of 2500 T cells that
    walk one step from a grid 8 sites apart on a 400 x 400 periodic lattice
    (at most 3 moves: no two meet, each is matched to its start), ``rounds``
    times at different step numbers; speed = ``moves`` sites per step."""
    size, spacing = 400, 8
    cfg = Config.model_validate({
        "simulation": {"seed": 17, "steps": 1, "dt_minutes": 10},
        "lattice": {"shape": [size, size], "neighbourhood": neighbourhood, "boundary": "periodic"},
        "chemokine": {"secretion_per_cell_per_min": 0.0, "kill_burst": 0.0},
        "immune": {"vessel_density": 0.0, "speed_um_per_min": moves, "lifespan_days": 1e9,
                   "exhausted_death_rate_per_day": 0.0},
    })
    grid = np.arange(spacing // 2, size, spacing)
    gx, gy = np.meshgrid(grid, grid)
    sq = []
    for r in range(rounds):
        st = initial_state(cfg)
        st.sites["clone"][:] = 0
        st.sites["cell"][:] = 0
        st.clones["population"][:] = 0
        st.sites["tcell"][(gx + size * gy).ravel()] = TCELL_PRESENT | 5
        st.step = 1000 * r
        sim = Simulation(cfg, backend=backend, state=st)
        sim.step()
        i = np.flatnonzero(sim.state().sites["tcell"])
        if len(i) != gx.size:
            raise AssertionError(f"{gx.size} T cells placed, {len(i)} after one step")
        d = [c % spacing - spacing // 2 for c in (i % size, i // size)]  # offset from the start
        sq.append(d[0] ** 2 + d[1] ** 2)
    return float(np.concatenate(sq).mean())


#: Mean squared length of one lattice move, in sites^2.
MOVE_LENGTH2 = {"von_neumann": 1.0, "moore": 1.5}


def walk_section(out, quick: bool) -> Section:
    import matplotlib.pyplot as plt

    cases = [("von_neumann", 1.0), ("von_neumann", 1.5), ("von_neumann", 2.5), ("moore", 1.5)]
    got = [msd_per_step(nb, m, rounds=6 if quick else 12) for nb, m in cases]
    want = [m * MOVE_LENGTH2[nb] for nb, m in cases]
    err = [g / w - 1 for g, w in zip(got, want)]
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot(want, want, "k--", lw=1, label="configured")
    ax.plot(want, got, "o", label="gpusim")
    ax.set(xlabel="configured MSD per step (sites^2)", ylabel="measured MSD per step")
    ax.legend()
    return Section(
        "T cells walk at the configured speed",
        "An unbiased lattice random walk has mean squared displacement growing linearly in time, "
        "MSD = 2 d D t (Einstein 1905; Berg, Random Walks in Biology, 1993); T-cell motility is "
        "summarised by that diffusivity (Miller et al. 2002, Science 296:1869).",
        "MSD per step within 3 % of (speed dt / dx) <l^2> at 1, 1.5 and 2.5 moves per step "
        "(fractional moves taken with probability equal to the fraction).",
        all(abs(e) < 0.03 for e in err),
        [f"{nb}, {m} moves/step: MSD {g:.4f} sites^2 per step, configured {w:.4f} ({100 * e:+.2f} %)"
         for (nb, m), g, w, e in zip(cases, got, want, err)], figure(out / "validation_walk.png", fig))


def discrete_heat_kernel(shape, alpha, substeps, mass):
    """The explicit scheme's own solution on a periodic grid, by FFT in
    float64: each substep multiplies mode k by 1 + alpha sum_a 2(cos(2 pi k_a / n_a) - 1)."""
    arr_shape = tuple(reversed(shape))
    delta = np.zeros(arr_shape)
    delta[tuple(s // 2 for s in arr_shape)] = mass
    grids = np.meshgrid(*[np.arange(n) for n in arr_shape], indexing="ij")
    symbol = sum(2 * (np.cos(2 * np.pi * g / n) - 1) for g, n in zip(grids, arr_shape))
    factor = (1 + alpha * symbol) ** substeps
    return np.real(np.fft.ifftn(np.fft.fftn(delta) * factor))


def point_source_spread(shape=(61, 61), diffusion=100.0, substeps=50, steps=1, backend="cpu"):
    """(field ``steps`` steps after a point release of mass 1000, the
    explicit scheme's discrete heat kernel, the field's variance per axis,
    the continuum's 2 D t / dx^2), all in sites."""
    from ..params import model_params

    cfg = Config.model_validate({
        "simulation": {"seed": 1, "dt_minutes": 10},
        "lattice": {"shape": list(shape), "boundary": "periodic"},
        "chemokine": {"diffusion_um2_per_min": diffusion, "diffusion_substeps": substeps, "decay_per_min": 0.0,
                      "secretion_per_cell_per_min": 0.0, "kill_burst": 0.0, "grid_coarsening": 1},
        "immune": {"vessel_density": 0.0},
    })
    st = initial_state(cfg)
    st.sites["clone"][:] = 0
    st.sites["cell"][:] = 0
    st.clones["population"][:] = 0
    arr = tuple(reversed(shape))
    st.extra["chemokine"][np.ravel_multi_index(tuple(s // 2 for s in arr), arr)] = 1000.0
    sim = Simulation(cfg, backend=backend, state=st)
    for _ in range(steps):
        sim.step()
    got = sim.state().extra["chemokine"].reshape(arr).astype(np.float64)
    mp = model_params(cfg)
    want = discrete_heat_kernel(shape, float(mp.chem_alpha), mp.chem_substeps * steps, 1000.0)
    coords = np.meshgrid(*[np.arange(n) - n // 2 for n in arr], indexing="ij")
    var = [float((got * c**2).sum() / got.sum()) for c in coords]
    return got, want, var, 2 * diffusion * 10 * steps / cfg.lattice.dx_um**2


def heat_section(out, quick: bool) -> Section:
    import matplotlib.pyplot as plt

    got, want, var, expected = point_source_spread(steps=2)
    err = float(np.abs(got - want).max() / want.max())
    ok = err < 1e-4 and all(abs(v / expected - 1) < 5e-3 for v in var)
    fig, ax = plt.subplots(figsize=(4, 3))
    x = np.arange(got.shape[1]) - got.shape[1] // 2
    mid = got.shape[0] // 2
    ax.plot(x, got[mid], "o", ms=3, label="gpusim (float32)")
    ax.plot(x, want[mid], "-", lw=1, label="discrete heat kernel")
    gauss = 1000.0 / (2 * np.pi * expected) * np.exp(-x**2 / (2 * expected))
    ax.plot(x, gauss, "--", lw=1, label="continuum, variance 2Dt")
    ax.set(xlabel="x (sites)", ylabel="concentration through the source")
    ax.legend(fontsize=7)
    return Section(
        "Chemokine diffusion is the heat kernel",
        "A point release under the diffusion equation spreads as the heat kernel, a Gaussian of variance "
        "2 D t per axis (Crank, The Mathematics of Diffusion, 1975); PhysiCell's chemokine uses "
        "D = 1000 um^2/min (Ghaffarizadeh et al. 2018).",
        "Field within 1e-4 of the peak of the explicit scheme's own (discrete) heat kernel, and variance per "
        "axis within 0.5 % of 2 D t / dx^2.",
        ok, [f"max |field - discrete kernel| = {err:.2e} of the peak; variance per axis "
             f"{', '.join(f'{v:.3f}' for v in var)} sites^2 vs 2Dt/dx^2 = {expected:.3f}"],
        figure(out / "validation_heat.png", fig))
