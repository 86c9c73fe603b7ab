"""Myeloid suppressor cells (kernels/myeloid.cu, gpusim/reference/myeloid.py,
the contact suppression in tcell_kill), drawn by the CCL2 field: byte
identity across backends, restarts and batches, and what the rules must do.
(The random configs of every microenvironment component -- test_treg,
test_ifng, test_oxygen, test_tiles -- carry them too, on every lattice kind
and thread count.)"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import (assert_batch_equals_alone, assert_resume_equals_one_go, random_microenvironment_config,
                      run_against_reference, run_state)

from test_treg import treg_rich

from gpusim.config import Config, validate
from gpusim.errors import InputError
from gpusim.observables import observables_for
from gpusim.params import model_params, step_params
from gpusim.state import initial_state
from gpusim.therapy import at_step


def totals(history: list[dict]) -> dict:
    return {k: sum(h[k] for h in history) for k in history[0]}


@pytest.mark.parametrize("other", ["cpu", pytest.param("cuda", marks=pytest.mark.gpu)])
def test_myeloid_identical_to_numpy_reference(other):
    """Every rule of the kind exercised (the random microenvironment configs
    of test_treg, test_ifng, test_oxygen and test_tiles carry it over every
    lattice kind, both thread counts and tiles on and off)."""
    cfg = random_microenvironment_config(2002, 2, "moore", "closed", steps=30)
    _, obs = run_against_reference(cfg, other)
    t = totals(obs)
    assert t["myeloid_recruited"] > 0 and t["myeloid_deaths"] > 0 and t["kills"] > 0
    assert max(o["myeloid_cells"] for o in obs) > 0


def myeloid_rich(steps: int, suppression: float = 0.8, therapy=(), **myeloid) -> Config:
    """test_treg's Treg-rich tumour with myeloid suppressors instead of Tregs."""
    data = treg_rich(steps, therapy=therapy).model_dump(mode="json")
    del data["tregs"]
    return Config.model_validate({**data, "ccl2": {"enabled": True}, "myeloid": {
        "enabled": True, "recruitment_rate_per_day": 30.0, "suppression": suppression, **myeloid}})


CSF1R = {"kind": "csf1r_blockade", "start_day": 0.2, "end_day": 10.0, "level": 1.0}


@pytest.mark.parametrize("how", ["resumed-numpy", "resumed-cpu", "batched"])
def test_myeloid_runs_are_byte_identical_resumed_and_batched(tmp_path, how):
    """A run resumed from its checkpoint writes the run file of the run made
    in one go (CSF1R inhibition on); runs batched on cpu write those of the
    runs alone on numpy."""
    if how == "batched":
        assert_batch_equals_alone(tmp_path, [myeloid_rich(25, speed_um_per_min=0.5),
                                             myeloid_rich(30, therapy=[CSF1R], speed_um_per_min=3.0),
                                             myeloid_rich(20, suppression=0.2)])
    else:
        assert_resume_equals_one_go(tmp_path, myeloid_rich(20, therapy=[CSF1R]), myeloid_rich(40, therapy=[CSF1R]),
                                    how.split("-")[1])


def test_off_by_default_and_needs_the_ccl2_field():
    cfg = Config()
    assert "myeloid" not in initial_state(cfg).sites and "ccl2" not in initial_state(cfg).extra
    assert not {"myeloid_cells", "myeloid_recruited"} & set(observables_for(cfg)) and "[myeloid]" not in cfg.to_toml()
    with pytest.raises(InputError, match="ccl2.enabled"):
        validate({"myeloid": {"enabled": True}}, "test")


def test_suppression_lowers_killing_and_expansion():
    """Many myeloid cells, full suppression: no kill in contact, so fewer
    kills and expansions than with myeloid cells that do not suppress."""
    _, strong = run_state(myeloid_rich(50, suppression=1.0), "cpu")
    _, none = run_state(myeloid_rich(50, suppression=0.0), "cpu")
    assert strong[-1]["myeloid_cells"] > 20
    assert totals(strong)["kills"] < 0.7 * totals(none)["kills"], (totals(strong)["kills"], totals(none)["kills"])
    assert totals(strong)["expansions"] <= totals(none)["expansions"]


def test_recruitment_follows_ccl2_and_cells_climb_it():
    """No CCL2 secreted: recruitment at the lowest level only (a few); with
    CCL2, many more enter, and their moves up the gradient bring them nearer
    the tumour than chemotaxis 0."""
    _, flat = run_state(myeloid_rich(15, suppression=0.0), "numpy")
    quiet = myeloid_rich(15).model_copy(update={"ccl2": Config().ccl2.model_copy(
        update={"enabled": True, "secretion_per_cell_per_min": 0.0})})
    _, none = run_state(quiet, "numpy")
    assert totals(flat)["myeloid_recruited"] > 5 * totals(none)["myeloid_recruited"]
    mean_distance = []
    for chemotaxis in (0.0, 2.0):
        st, _ = run_state(myeloid_rich(40, chemotaxis=chemotaxis, speed_um_per_min=2.0), "cpu")
        y, x = np.divmod(np.flatnonzero(st.sites["myeloid"]), 48)
        mean_distance.append(float(np.hypot(x - 23.5, y - 23.5).mean()))
    assert mean_distance[1] < mean_distance[0], mean_distance


def test_csf1r_inhibition_depletes_myeloid_cells_and_restores_killing():
    """CSF1R inhibition from day 0.2 at full level (depletion 10/day against
    30/day recruitment at few vessels): fewer myeloid cells, more kills."""
    _, ctrl = run_state(myeloid_rich(50, depletion_rate_per_day=10.0), "cpu")
    _, treated = run_state(myeloid_rich(50, therapy=[CSF1R], depletion_rate_per_day=10.0), "cpu")
    assert treated[-1]["myeloid_cells"] < 0.5 * ctrl[-1]["myeloid_cells"], (treated[-1], ctrl[-1])
    assert totals(treated)["myeloid_deaths"] > totals(ctrl)["myeloid_deaths"]
    assert totals(treated)["kills"] > totals(ctrl)["kills"]


def test_the_depletion_level_is_a_step_parameter():
    cfg = myeloid_rich(10, therapy=[{**CSF1R, "level": 0.5}], depletion_rate_per_day=2.0)
    th = at_step(cfg, 100)
    assert th.myeloid_depletion == 0.5 and at_step(cfg, 0).myeloid_depletion == 0.0
    sp = step_params(model_params(cfg), th)
    assert abs(sp.p_myeloid_deplete / 2**32 - (1 - np.exp(-0.5 * 2.0 * cfg.simulation.dt_days))) < 1e-9


def test_myeloid_observable():
    st, obs = run_state(myeloid_rich(10), "numpy")
    assert obs[-1]["myeloid_cells"] == int(np.count_nonzero(st.sites["myeloid"]))


# README "Scenarios": configs/myeloid_excluded.toml as shipped (its own seed)
# and its two arms, one run each (about 5 s of cpu time each).
def excluded_run(*overrides: str):
    from gpusim.config import load_config
    from gpusim.validate.myeloid import CONFIGS

    return run_state(load_config(CONFIGS / "myeloid_excluded.toml", ["output.frame_every_steps=0", *overrides]),
                     "cpu")


def phenotype(st, cfg_shape=(80, 80)) -> dict:
    from gpusim.analysis.spatial import frame_statistics
    from gpusim.config import AnalysisConfig

    shape = tuple(reversed(cfg_shape))
    return frame_statistics(st.sites["clone"].reshape(shape), st.sites["tcell"].reshape(shape), 10.0,
                            AnalysisConfig())


def test_myeloid_excluded_as_shipped_is_excluded_and_grows():
    """README: myeloid-rich, CD8 T cells held in the margin (phenotype
    excluded at day 10, core/margin density below 0.1), the tumour grows."""
    st, obs = excluded_run()
    s = phenotype(st)
    assert s["phenotype"] == "excluded" and s["core_to_margin_density_ratio"] < 0.1, s
    assert obs[-1]["myeloid_cells"] > obs[-1]["tcells"] and obs[-1]["tumour_cells"] > 1.5 * obs[0]["tumour_cells"]
    # the figures the README and the CSF1R test quote
    assert obs[-1]["tumour_cells"] == 1352 and round(s["tcell_density_core_per_mm2"], 1) == 32.7, s


def test_myeloid_excluded_without_myeloid_cells_is_cleared():
    _, obs = excluded_run("myeloid.enabled=false")
    assert obs[-1]["tumour_cells"] == 0


def test_myeloid_excluded_under_csf1r_inhibition_lets_cd8_into_the_core():
    """README: CSF1R inhibition from day 2 raises the core CD8 density at
    day 10 more than tenfold and leaves a smaller tumour than untreated."""
    st, obs = excluded_run('therapy=[{kind="csf1r_blockade", start_day=2.0, end_day=10.0, level=1.0}]')
    s = phenotype(st)
    assert s["tcell_density_core_per_mm2"] > 10 * 32.7, s  # untreated: 32.7 per mm^2 (the shipped run)
    assert obs[-1]["tumour_cells"] < 0.7 * 1352  # untreated: 1352 cells at day 10
