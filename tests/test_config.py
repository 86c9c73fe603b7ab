"""Config loading: units in names, ranges checked, unknown keys rejected,
--set overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from gpusim.config import Config, apply_overrides, load_config
from gpusim.errors import InputError
from gpusim.params import immunogenicity_table, rate_probability, threshold

# Scenario configs; sweep specs (sweep_*.toml) are loaded by tests/test_sweep.py.
CONFIGS = sorted(p for p in (Path(__file__).parents[1] / "configs").glob("*.toml") if not p.name.startswith("sweep"))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_shipped_configs_load(path):
    load_config(path)


def test_quickstart_is_shipped():
    assert any(p.name == "quickstart.toml" for p in CONFIGS)


@pytest.mark.parametrize("text,fragment", [
    ("[tumour]\ndivision_rate_per_day = -1\n", "tumour.division_rate_per_day: Input should be greater"),
    ("[tumour]\ndivison_rate_per_day = 1\n", "tumour.divison_rate_per_day: unknown key"),
    ("[lattice]\nshape = [10, 10, 10, 10]\n", "lattice.shape: give 2 (nx, ny) or 3"),
    ("[lattice]\nneighbourhood = 'hex'\n", "lattice.neighbourhood: Input should be 'von_neumann' or 'moore'"),
    ("[tumour]\nmax_divisions = 100\n", "tumour.max_divisions: Input should be less than or equal to 63"),
    ("[simulation]\ndt_minutes = 0\n", "simulation.dt_minutes: Input should be greater than 0"),
    ("[nonsense]\n", "nonsense: unknown key"),
    ("[lattice\nshape = 1\n", "malformed TOML"),
])
def test_bad_config_names_the_key(tmp_path, text, fragment):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(InputError) as err:
        load_config(path)
    msg = str(err.value)
    assert fragment in msg and str(path) in msg
    assert "\n" not in msg


def test_overrides_parse_toml_values(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[lattice]\nshape = [10, 10]\n")
    cfg = load_config(path, ["lattice.shape=[4,5,6]", "lattice.boundary=periodic", "simulation.seed=9",
                             "tumour.immunogenicity.mean=0.3"])
    assert cfg.lattice.shape == (4, 5, 6) and cfg.lattice.boundary == "periodic"
    assert cfg.simulation.seed == 9 and cfg.tumour.immunogenicity.mean == 0.3


@pytest.mark.parametrize("item,fragment", [
    ("tumour.death_rate_per_day", "expected key.path=value"),
    ("=3", "expected key.path=value"),
    ("tumour.nope=1", "tumour.nope: unknown key"),
    ("tumour.death_rate_per_day=-2", "tumour.death_rate_per_day"),
    ("tumour.death_rate_per_day.x=1", "death_rate_per_day is not a table"),
    ("lattice.shape=big", "lattice.shape"),
])
def test_bad_override(item, fragment):
    with pytest.raises(InputError) as err:
        apply_overrides(Config(), [item])
    assert fragment in str(err.value)


def test_assignment_is_validated():
    cfg = Config()
    with pytest.raises(ValueError):
        cfg.tumour.division_rate_per_day = -1.0


def test_round_trip_through_toml():
    from gpusim.config import config_from_toml_text

    cfg = apply_overrides(Config(), ["lattice.shape=[7,8,9]", "simulation.seed=18446744073709551615"])
    assert config_from_toml_text(cfg.to_toml(), "x") == cfg


def test_thresholds():
    assert threshold(0.0) == 0 and threshold(1.0) == 2**32 - 1
    assert threshold(0.25) == 2**30
    assert abs(rate_probability(1.0, 1.0) - 0.6321205588285577) < 1e-15
    table = immunogenicity_table("exponential", 0.2)
    assert table.dtype.name == "uint32" and len(table) == 1024 and (table[1:] >= table[:-1]).all()
    # Mean of the quantile table approximates the (truncated) exponential mean.
    assert abs(table.astype(float).mean() / 2**32 - 0.2) < 0.01


@pytest.mark.parametrize("entry,fragment", [
    ({"kind": "checkpoint_blockade", "start_day": 5, "end_day": 3, "level": 0.5},
     "therapy[0] (checkpoint_blockade): end_day 3.0 is before start_day 5.0"),
    ({"kind": "vaccine", "start_day": -1, "end_day": 3, "recruitment_multiplier": 2},
     "therapy.0.vaccine.start_day: Input should be greater than or equal to 0"),
    ({"kind": "checkpoint_blockade", "start_day": 1, "end_day": 3, "level": 1.5},
     "therapy.0.checkpoint_blockade.level: Input should be less than or equal to 1"),
    ({"kind": "adoptive_transfer", "day": 1, "cells": 0}, "therapy.0.adoptive_transfer.cells"),
    ({"kind": "surgery"}, "therapy.0: Input tag 'surgery'"),
])
def test_bad_therapy_schedule_names_the_entry(entry, fragment):
    from gpusim.config import validate

    with pytest.raises(InputError) as err:
        validate({"therapy": [entry]}, "s.toml")
    assert str(err.value).startswith("s.toml: ") and fragment in str(err.value)
