"""Regulatory T cells (kernels/treg.cu, gpusim/reference/treg.py, the
contact suppression in tcell_kill) and anti-CTLA-4 (ctla4_blockade):
byte identity across backends, thread counts, restarts and batches, and
what the rules must do."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import (CASES, assert_batch_equals_alone, assert_resume_equals_one_go, every_case_against_reference,
                      make_config, random_microenvironment_config, run_against_reference, run_cpu_in_subprocess,
                      run_state)

from gpusim.observables import observables_for
from gpusim.config import Config
from gpusim.params import model_params, step_params
from gpusim.state import initial_state
from gpusim.therapy import at_step


def totals(history: list[dict]) -> dict:
    return {k: sum(h[k] for h in history) for k in history[0]}


@every_case_against_reference
def test_tregs_identical_to_numpy_reference(dim, neighbourhood, boundary, other):
    cfg = random_microenvironment_config(1800 + CASES.index((dim, neighbourhood, boundary)), dim,
                                         neighbourhood, boundary)
    ref, ref_obs = run_against_reference(cfg, other)
    t = totals(ref_obs)
    assert t["tregs_recruited"] > 0 and t["treg_deaths"] > 0
    assert max(o["tregs"] for o in ref_obs) > 0
    assert t["kills"] > 0


@pytest.mark.parametrize("dim", [2, 3])
def test_tregs_cpu_identical_with_1_and_2_threads(dim):
    cfg = random_microenvironment_config(180 + dim, dim, "von_neumann", "closed", steps=80)
    assert run_cpu_in_subprocess(cfg, 1) == run_cpu_in_subprocess(cfg, 2)


def treg_rich(steps: int, suppression: float = 0.8, therapy=(), **tregs) -> Config:
    return make_config(
        simulation={"seed": 11, "steps": steps, "dt_minutes": 20.0},
        lattice={"shape": [48, 48]},
        tumour={"initial_radius_cells": 8.0, "initial_recognition": 0.5, "mutations_per_division": 0.0},
        immune={"initial_tcells": 40, "recruitment_rate_per_day": 5.0, "vessel_density": 0.05},
        tregs={"enabled": True, "recruitment_rate_per_day": 10.0, "suppression": suppression, **tregs},
        therapy=list(therapy),
        output={"frame_every_steps": 10, "checkpoint_every_steps": 15},
    )


CTLA4 = {"kind": "ctla4_blockade", "start_day": 0.3, "end_day": 10.0, "level": 1.0, "priming_multiplier": 2.0}


@pytest.mark.parametrize("backend", ["numpy", "cpu"])
def test_restart_of_a_treg_run_is_byte_identical(tmp_path, backend):
    assert_resume_equals_one_go(tmp_path, treg_rich(25, therapy=[CTLA4]), treg_rich(50, therapy=[CTLA4]), backend)


def test_batched_treg_runs_equal_runs_alone(tmp_path):
    cfgs = [treg_rich(30, speed_um_per_min=1.0), treg_rich(40, therapy=[CTLA4], speed_um_per_min=3.0),
            treg_rich(35, suppression=0.2)]
    assert_batch_equals_alone(tmp_path, cfgs)


def test_off_by_default_adds_nothing():
    cfg = Config()
    assert "treg" not in initial_state(cfg).sites
    assert not {"tregs", "cd8_treg_ratio", "tregs_recruited"} & set(observables_for(cfg))
    assert "[tregs]" not in cfg.to_toml()


def test_suppression_lowers_killing_and_expansion():
    """Many Tregs, full suppression: no kill in contact, so fewer kills and
    expansions than with Tregs that do not suppress."""
    _, strong = run_state(treg_rich(60, suppression=1.0, recruitment_rate_per_day=60.0), "cpu")
    _, none = run_state(treg_rich(60, suppression=0.0, recruitment_rate_per_day=60.0), "cpu")
    assert strong[-1]["tregs"] > strong[-1]["tcells"]
    assert totals(strong)["kills"] < 0.7 * totals(none)["kills"], (totals(strong)["kills"], totals(none)["kills"])
    assert totals(strong)["expansions"] <= totals(none)["expansions"]


def test_anti_ctla4_depletes_tregs_and_primes_cd8():
    """Anti-CTLA-4 from day 0.3 at full level: Tregs fall (depletion 5/day
    against 10/day recruitment at few vessels), CD8 recruitment goes up
    (x2), and the CD8/Treg ratio rises."""
    _, ctrl = run_state(treg_rich(90, depletion_rate_per_day=5.0), "cpu")
    _, treated = run_state(treg_rich(90, therapy=[CTLA4], depletion_rate_per_day=5.0), "cpu")
    assert treated[-1]["tregs"] < 0.6 * ctrl[-1]["tregs"], (treated[-1]["tregs"], ctrl[-1]["tregs"])
    assert totals(treated)["recruited"] > totals(ctrl)["recruited"]
    assert treated[-1]["cd8_treg_ratio"] > ctrl[-1]["cd8_treg_ratio"]


def test_the_depletion_level_is_a_step_parameter():
    """ctla4_blockade sets the step's Treg depletion level (what a PK
    anti-CTLA-4 sets from occupancy) and the recruitment multiplier."""
    cfg = treg_rich(10, therapy=[{**CTLA4, "level": 0.5, "priming_multiplier": 3.0}], depletion_rate_per_day=2.0)
    th = at_step(cfg, 100)
    assert th.treg_depletion == 0.5 and th.priming == 2.0 and th.priming_fraction == 0.5
    assert at_step(cfg, 0).treg_depletion == 0.0
    sp = step_params(model_params(cfg), th)
    assert abs(sp.p_treg_deplete / 2**32 - (1 - np.exp(-0.5 * 2.0 * cfg.simulation.dt_days))) < 1e-9


def test_cd8_treg_ratio_observable():
    st, obs = run_state(treg_rich(20), "numpy")
    last = obs[-1]
    assert last["tregs"] == int(np.count_nonzero(st.sites["treg"]))
    assert last["cd8_treg_ratio"] == last["tcells"] / max(1, last["tregs"])
