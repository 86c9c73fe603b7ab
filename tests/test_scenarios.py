"""The shipped scenarios give the outcome their names promise (at least 4
of 5 seeds), and the two therapy scenarios escape untreated and respond
(CR or PR) when treated.  Each run is a few seconds on the cpu backend."""

from __future__ import annotations

from pathlib import Path

import h5py
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
]


@pytest.mark.slow
@pytest.mark.parametrize("name,overrides,attr,claim", README_CLAIMS,
                         ids=[f"{n}{'-untreated' if o else ''}" for n, o, _, _ in README_CLAIMS])
def test_readme_claim_holds_for_the_shipped_seed(tmp_path, name, overrides, attr, claim):
    """What `gpusim run configs/NAME.toml` does as shipped (its own seed) is
    what the README table says it does."""
    cfg = load_config(CONFIGS / f"{name}.toml", ["output.frame_every_steps=0", *overrides])
    run_to_file(cfg, tmp_path / "run.h5", backend="cpu")
    with h5py.File(tmp_path / "run.h5") as f:
        assert str(f.attrs[attr]) in claim, (name, overrides, str(f.attrs[attr]))
