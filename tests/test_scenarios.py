"""The shipped scenarios give the outcome their names promise (at least 4
of 5 seeds), and the two therapy scenarios escape untreated and respond
(CR or PR) when treated.  Each run is a few seconds on the cpu backend."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from gpusim.config import load_config
from gpusim.simulation import run_to_file

CONFIGS = Path(__file__).parents[1] / "configs"
SEEDS = (1, 2, 3, 4, 5)


def outcomes(tmp_path, name: str, *overrides: str, attr: str = "outcome") -> list[str]:
    found = []
    for seed in SEEDS:
        cfg = load_config(CONFIGS / f"{name}.toml",
                          [f"simulation.seed={seed}", "output.frame_every_steps=0", *overrides])
        out = tmp_path / f"{name}-{seed}.h5"
        run_to_file(cfg, out, backend="cpu")
        with h5py.File(out) as f:
            found.append(str(f.attrs[attr]))
    return found


@pytest.mark.slow
@pytest.mark.parametrize("outcome", ["elimination", "equilibrium", "escape"])
def test_immunoediting_scenarios(tmp_path, outcome):
    got = outcomes(tmp_path, f"immunoediting_{outcome}")
    assert got.count(outcome) >= 4, got


@pytest.mark.slow
@pytest.mark.parametrize("name", ["checkpoint_blockade", "adoptive_transfer"])
def test_therapy_scenarios_escape_untreated_and_respond_treated(tmp_path, name):
    untreated = outcomes(tmp_path, name, "therapy=[]")
    assert untreated.count("escape") >= 4, untreated
    treated = outcomes(tmp_path, name, attr="response")
    assert sum(r in ("CR", "PR") for r in treated) >= 4, treated


@pytest.mark.slow
def test_quickstart_ends_in_equilibrium(tmp_path):
    # README: the quickstart tumour grows 100-fold, but only 1.8-fold over the
    # last 15 days (mutations v2): within the equilibrium band of 2-fold.
    cfg = load_config(CONFIGS / "quickstart.toml", ["output.frame_every_steps=0"])
    run_to_file(cfg, tmp_path / "q.h5", backend="cpu")
    with h5py.File(tmp_path / "q.h5") as f:
        assert str(f.attrs["outcome"]) == "equilibrium"
        cells = f["observables/tumour_cells/value"][()]
        assert 90 < cells[-1] / cells[0] < 110


#: README's "Scenarios" table, claim by claim: (config, overrides, root attribute, what the README says).
README_CLAIMS = [
    ("immunoediting_elimination", (), "outcome", {"elimination"}),
    ("immunoediting_equilibrium", (), "outcome", {"equilibrium"}),
    ("immunoediting_escape", (), "outcome", {"escape"}),
    ("checkpoint_blockade", (), "outcome", {"elimination"}),  # cleared under blockade
    ("checkpoint_blockade", ("therapy=[]",), "outcome", {"escape"}),
    ("adoptive_transfer", (), "response", {"CR"}),  # cleared by transferred T cells
    ("adoptive_transfer", ("therapy=[]",), "outcome", {"escape"}),
    # The microenvironment (README "The microenvironment").
    ("adaptive_resistance", (), "response", {"CR"}),  # anti-PD-1 counters the induced PD-L1
    ("adaptive_resistance", ("therapy=[]",), "outcome", {"escape"}),  # induced PD-L1 protects it
    ("adaptive_resistance", ("therapy=[]", "ifng.enabled=false"), "outcome", {"elimination"}),
    ("treg_checkpoint", (), "response", {"CR"}),  # anti-CTLA-4 + anti-PD-1
    ("treg_checkpoint", ("therapy=[]",), "outcome", {"escape"}),
]


@pytest.mark.slow
@pytest.mark.parametrize("name,overrides,attr,claim", README_CLAIMS,
                         ids=[f"{n}{'-untreated' if o else ''}{'-no-ifng' if len(o) > 1 else ''}"
                              for n, o, _, _ in README_CLAIMS])
def test_readme_claim_holds_for_the_shipped_seed(tmp_path, name, overrides, attr, claim):
    """What `gpusim run configs/NAME.toml` does as shipped (its own seed) is
    what the README table says it does."""
    cfg = load_config(CONFIGS / f"{name}.toml", ["output.frame_every_steps=0", *overrides])
    run_to_file(cfg, tmp_path / "run.h5", backend="cpu")
    with h5py.File(tmp_path / "run.h5") as f:
        assert str(f.attrs[attr]) in claim, (name, overrides, str(f.attrs[attr]))


def _tumour_cells(tmp_path, name: str, *overrides: str):
    cfg = load_config(CONFIGS / f"{name}.toml", ["output.frame_every_steps=0", *overrides])
    out = tmp_path / f"{name}-{len(overrides)}-{abs(hash(overrides))}.h5"
    run_to_file(cfg, out, backend="cpu")
    with h5py.File(out) as f:
        return f["observables/tumour_cells/value"][()], f["observables/tregs/value"][()]


@pytest.mark.slow
def test_treg_checkpoint_arms_are_ordered(tmp_path):
    """README: anti-CTLA-4 + anti-PD-1 clears the tumour before anti-PD-1
    alone does; anti-CTLA-4 alone depletes the Tregs and slows the tumour
    but does not control it; untreated it escapes (the ordering of
    CheckMate 067: combination > anti-PD-1 > anti-CTLA-4)."""
    window = "start_day=5.0, end_day=30.0, level=1.0"
    both, _ = _tumour_cells(tmp_path, "treg_checkpoint")
    pd1, _ = _tumour_cells(tmp_path, "treg_checkpoint", f'therapy=[{{kind="checkpoint_blockade", {window}}}]')
    ctla4, ctla4_tregs = _tumour_cells(tmp_path, "treg_checkpoint", f'therapy=[{{kind="ctla4_blockade", {window}}}]')
    none, none_tregs = _tumour_cells(tmp_path, "treg_checkpoint", "therapy=[]")
    cleared = lambda cells: int(np.argmax(cells == 0)) if (cells == 0).any() else len(cells)  # noqa: E731
    assert cleared(both) < cleared(pd1) < len(pd1), (cleared(both), cleared(pd1))
    assert 0 < ctla4[-1] < 0.8 * none[-1], (ctla4[-1], none[-1])
    assert ctla4_tregs[-1] < 0.2 * none_tregs[-1], (ctla4_tregs[-1], none_tregs[-1])


@pytest.mark.slow
def test_hypoxic_3d_grows_a_viable_rim_around_a_necrotic_core():
    """README: the vessel-free 3D tumour's necrotic core appears while it is
    a few hundred micrometres across (under 500 um), and at day 10 its
    viable rim (equivalent-sphere radius of tumour + necrosis minus that of
    the necrosis) is 100-250 um thick."""
    from gpusim.simulation import Simulation

    cfg = load_config(CONFIGS / "hypoxic_3d.toml", ["output.frame_every_steps=0"])
    sim = Simulation(cfg, backend="cpu")
    first_necrosis_diameter = None
    for _ in range(cfg.simulation.steps):
        obs = sim.step()
        if first_necrosis_diameter is None and obs["necrotic_sites"] > 0:
            first_necrosis_diameter = 2 * (3 * obs["tumour_cells"] / (4 * np.pi)) ** (1 / 3) * cfg.lattice.dx_um
    assert first_necrosis_diameter is not None and first_necrosis_diameter < 500, first_necrosis_diameter
    st = sim.state()
    live = st.sites["clone"] != 0
    necrotic = (st.sites["necrotic"] != 0) & ~live
    radius = lambda n: (3 * n / (4 * np.pi)) ** (1 / 3) * cfg.lattice.dx_um  # noqa: E731
    rim = radius(live.sum() + necrotic.sum()) - radius(necrotic.sum())
    assert 100 <= rim <= 250, rim
