"""The shipped scenarios give the outcome their names promise (at least 4
of 5 seeds), the two therapy scenarios escape untreated and respond (CR or
PR) when treated, and every README claim holds for its shipped seed.  A
config's seeds run as one cpu batch through gpusim validate's cohort runner
(gpusim.validate.runs: byte-identical to the runs alone, each run stopping
once its outcome is settled), shared by the tests that read them."""

from __future__ import annotations

import numpy as np
import pytest

from gpusim.config import load_config
from gpusim.validate.runs import CONFIGS, Job, run_jobs

SEEDS = (1, 2, 3, 4, 5)


#: Scenario runs, made once per test process: the test of a config checks
#: every claim on that config (its README claims too), so nothing depends on
#: which pytest worker ran which test.
_RUNS: dict[tuple, list[dict]] = {}


def runs(name: str, overrides: tuple[str, ...] = (), seeds: tuple[int, ...] = SEEDS, to_end: bool = False
         ) -> list[dict]:
    """Each seed's run of ``configs/NAME.toml`` with ``overrides`` on the cpu
    backend, as one batch: its outcome and response as its run file would
    record them (``gpusim.outcome.classify``), from a run that stops once
    they are settled (elimination or escape) unless ``to_end``."""
    key = (name, overrides, seeds, to_end)
    if key not in _RUNS:
        _RUNS[key] = run_jobs([Job(CONFIGS / f"{name}.toml", [f"simulation.seed={seed}", *overrides], to_end=to_end)
                               for seed in seeds], 1)
    return _RUNS[key]


def shipped_seed(name: str) -> int:
    return load_config(CONFIGS / f"{name}.toml").simulation.seed


def shipped(name: str, overrides: tuple[str, ...] = ()) -> dict:
    """The run as shipped (its own seed): taken from the seeds' batch where
    that batch is made anyway (the configs of the multi-seed tests)."""
    seed = shipped_seed(name)
    if name in MULTI_SEED and seed in SEEDS:
        return runs(name, overrides)[SEEDS.index(seed)]
    return runs(name, overrides, (seed,))[0]


IMMUNOEDITING = ["elimination", "equilibrium", "escape"]
THERAPIES = ["checkpoint_blockade", "adoptive_transfer"]
#: Configs whose claims are checked on five seeds (the README claims of their
#: shipped seed reuse those runs).
MULTI_SEED = {f"immunoediting_{o}" for o in IMMUNOEDITING} | set(THERAPIES)


@pytest.mark.slow
@pytest.mark.parametrize("outcome", IMMUNOEDITING)
def test_immunoediting_scenarios(outcome):
    got = [r["outcome"] for r in runs(f"immunoediting_{outcome}")]
    assert got.count(outcome) >= 4, got
    assert_readme_claims(f"immunoediting_{outcome}")


@pytest.mark.slow
@pytest.mark.parametrize("name", THERAPIES)
def test_therapy_scenarios_escape_untreated_and_respond_treated(name):
    untreated = [r["outcome"] for r in runs(name, ("therapy=[]",))]
    assert untreated.count("escape") >= 4, untreated
    treated = [r["response"] for r in runs(name)]
    assert sum(r in ("CR", "PR") for r in treated) >= 4, treated
    assert_readme_claims(name)


@pytest.mark.slow
def test_quickstart_ends_in_equilibrium():
    # README: the quickstart tumour grows 100-fold, but only 1.8-fold over the
    # last 15 days (mutations v2): within the equilibrium band of 2-fold.
    run = shipped("quickstart")
    assert run["outcome"] == "equilibrium"
    assert 90 < run["final_cells"] / run["curve"][1][0] < 110


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


def assert_readme_claims(name: str) -> None:
    """What `gpusim run configs/NAME.toml` does as shipped (its own seed) is
    what the README table says it does, claim by claim."""
    for claimed, overrides, attr, claim in README_CLAIMS:
        if claimed == name:
            got = shipped(name, overrides)[attr]
            assert got in claim, (name, overrides, got)


#: Configs whose README claims no other test here checks.
CLAIMS_ALONE = sorted({n for n, *_ in README_CLAIMS} - MULTI_SEED - {"treg_checkpoint"})


@pytest.mark.slow
@pytest.mark.parametrize("name", CLAIMS_ALONE)
def test_readme_claims_hold_for_the_shipped_seed(name):
    assert_readme_claims(name)


@pytest.mark.slow
def test_treg_checkpoint_arms_are_ordered():
    """README: anti-CTLA-4 + anti-PD-1 clears the tumour before anti-PD-1
    alone does; anti-CTLA-4 alone depletes the Tregs and slows the tumour
    but does not control it; untreated it escapes (the ordering of
    CheckMate 067: combination > anti-PD-1 > anti-CTLA-4)."""
    window = "start_day=5.0, end_day=30.0, level=1.0"
    both = shipped("treg_checkpoint")  # these two stop when cleared: "days" is when
    pd1 = shipped("treg_checkpoint", (f'therapy=[{{kind="checkpoint_blockade", {window}}}]',))
    seed = (shipped_seed("treg_checkpoint"),)
    ctla4 = runs("treg_checkpoint", (f'therapy=[{{kind="ctla4_blockade", {window}}}]',), seed, to_end=True)[0]["final"]
    none = runs("treg_checkpoint", ("therapy=[]",), seed, to_end=True)[0]["final"]
    assert both["final_cells"] == pd1["final_cells"] == 0 and both["days"] < pd1["days"], (both["days"], pd1["days"])
    assert 0 < ctla4["tumour_cells"] < 0.8 * none["tumour_cells"], (ctla4["tumour_cells"], none["tumour_cells"])
    assert ctla4["tregs"] < 0.2 * none["tregs"], (ctla4["tregs"], none["tregs"])
    assert_readme_claims("treg_checkpoint")


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
