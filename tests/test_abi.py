"""gpusim/abi.py: the host side of kernels/abi.cuh."""

from __future__ import annotations

import numpy as np
import pytest

from gpusim import abi
from gpusim.config import Config
from gpusim.observables import EVENTS
from gpusim.params import model_params, step_params
from gpusim.therapy import at_step


def _busy_config() -> Config:
    """A config whose first steps reach every launch: mutations (new clones),
    chemokine substeps, recruitment, an adoptive transfer, kills, moves."""
    return Config.model_validate({
        "simulation": {"seed": 3, "steps": 3},
        "lattice": {"shape": [24, 24]},
        "tumour": {"initial_radius_cells": 5, "division_rate_per_day": 50.0, "mutations_per_division": 0.7},
        "immune": {"vessel_density": 0.1, "initial_tcells": 40, "speed_um_per_min": 2.0},
        "therapy": [{"kind": "adoptive_transfer", "day": 0.0, "cells": 20},
                    {"kind": "chemotherapy", "day": 0.0, "tumour_kill_prob": 0.1, "tcell_kill_prob": 0.1}],
    })


def test_every_params_field_is_written_by_the_host(monkeypatch):
    from gpusim.engine import param_table
    from gpusim.engine.backend import KernelBackend
    from gpusim.engine.device import CpuDevice
    from gpusim.state import initial_state

    written: set[str] = set()
    static, per_step = param_table.write_params, param_table.ParamTable.set_fields

    def spy_static(record, **values):
        written.update(values)
        static(record, **values)

    def spy_step(self, rows, **values):
        written.update(values)
        return per_step(self, rows, **values)

    monkeypatch.setattr(param_table, "write_params", spy_static)
    monkeypatch.setattr(param_table.ParamTable, "set_fields", spy_step)
    cfg = _busy_config()
    be = KernelBackend(CpuDevice(), [cfg], [initial_state(cfg)])
    for _ in range(cfg.simulation.steps):
        be.step()
    missing = set(abi.struct_dtype("Params").names) - written
    assert not missing, f"Params fields the host never writes: {sorted(missing)}"


def test_params_values_fill_each_field_from_its_namesake():
    cfg = _busy_config()
    mp = model_params(cfg)
    static, per_step = abi.params_values(mp), abi.params_values(step_params(mp, at_step(cfg, 0)))
    assert static["nx"] == 24 and static["n_nbr"] == len(mp.nbr) and static["p_expand"] == mp.p_expand
    np.testing.assert_array_equal(static["nbr_dy"], mp.nbr[:, 1])
    assert sorted(per_step) == ["p_chemo_tcell", "p_chemo_tumour", "p_exhaust", "p_myeloid_deplete", "p_pdl1_pass",
                                "p_reinvigorate", "p_treg_deplete", "recruit", "recruit_primed", "recruit_priming"]
    assert not set(static) & set(per_step), "a field is both per run and per step"


def test_constants_counters_and_state_bits_come_from_the_header():
    from gpusim import params, state

    c = abi.constants()
    first = {"divisions": 0, "deaths": 1, "kills": 2, "recruited": 3, "expansions": 4, "tcell_deaths": 5,
             "transferred": 6}
    assert {k: abi.COUNTERS[k] for k in first} == first  # a new component's counters come after these
    assert len(set(abi.COUNTERS.values())) == len(abi.COUNTERS)
    assert max(abi.COUNTERS.values()) < c["N_COUNTERS"]
    assert set(EVENTS) == set(abi.COUNTERS) | {"new_clones"}, "every kernel counter is an observable"
    assert (state.CELL_STEM, state.TCELL_PRESENT, state.CLONE_HLA) == (c["CELL_STEM"], c["TCELL_PRESENT"],
                                                                        c["CLONE_HLA"])
    assert params.RECRUIT_LEVELS == abi.struct_dtype("Params")["recruit"].shape[0]
    assert params.IMMUNO_TABLE == abi.struct_dtype("Params")["immunogenicity"].shape[0]


def test_phase_ids_are_unique_across_every_kernel_file():
    from gpusim.components import KERNEL_SOURCES

    ids = abi.phase_ids()
    taken: dict[int, str] = {}
    for name, (value, file) in ids.items():
        assert taken.setdefault(value, name) == name, f"PHASE_{name} ({file}) reuses id {value} of PHASE_{taken[value]}"
    assert {"TREG_RECRUIT", "PDL1_LOSS", "NECROSIS", "KILL"} <= set(ids)
    assert {file for _, file in ids.values()} - {"philox.cuh"} <= set(KERNEL_SOURCES), "ids outside compiled files"


def test_a_constant_defined_twice_with_two_values_is_an_error(tmp_path, monkeypatch):
    for name, text in (("abi.cuh", "#define GPUSIM_PHASE_A 40\n"), ("a.cu", "#define GPUSIM_PHASE_A 40\n"),
                       ("b.cu", "#define GPUSIM_PHASE_A 41u\n"), ("shim.h", "#define GPUSIM_PHASE_A 42\n")):
        (tmp_path / name).write_text(text)
    monkeypatch.setattr(abi, "kernel_dir", lambda: tmp_path)
    abi.constants.cache_clear()
    try:
        with pytest.raises(ValueError, match="GPUSIM_PHASE_A is 40 in abi.cuh but 41 in b.cu"):
            abi.constants()
        (tmp_path / "b.cu").write_text("#define GPUSIM_PHASE_B 40\n")  # same id, another name: phase_ids shows it
        assert abi.constants()["PHASE_A"] == 40 and abi.phase_ids() == {"A": (40, "abi.cuh"), "B": (40, "b.cu")}
    finally:
        abi.constants.cache_clear()


def test_struct_dtype_names_a_missing_struct():
    with pytest.raises(KeyError, match="NoSuch"):
        abi.struct_dtype("NoSuch")
