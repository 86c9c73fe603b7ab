"""Config loading: units in names, ranges checked, unknown keys rejected,
--set overrides."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from gpusim.config import MAX_SUBSTEPS_PER_STEP, Config, apply_overrides, load_config, validate
from gpusim.errors import InputError
from gpusim.params import immunogenicity_table, rate_probability, threshold

# Scenario configs; sweep specs (sweep_*.toml) are loaded by tests/test_sweep.py, calibration specs
# (calibrate_*.toml) by tests/test_calibrate.py, the virtual trial (trial_*.toml) by tests/test_sweep.py.
CONFIGS = sorted(p for p in (Path(__file__).parents[1] / "configs").glob("*.toml")
                 if not p.name.startswith(("sweep", "calibrate", "trial")))


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


def test_overrides_on_dumped_data_leave_that_data_as_it_was():
    # A sweep plan applies every run's overrides to one dump of its base
    # (copied along each override's path, not deep): no run may leak into the next.
    import copy

    data = Config().model_dump(mode="json")
    before = copy.deepcopy(data)
    a = apply_overrides(data, ["lattice.shape=[7,8]", "tumour.death_rate_per_day=0.3", "therapy=[]"])
    b = apply_overrides(data, ["simulation.seed=5"])
    assert data == before
    assert (a.lattice.shape, a.tumour.death_rate_per_day) == ((7, 8), 0.3)
    assert b.lattice.shape == Config().lattice.shape and b.tumour.death_rate_per_day == Config().tumour.death_rate_per_day
    assert b == apply_overrides(Config(), ["simulation.seed=5"])


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


def _float_keys(model, prefix=""):
    """Dotted keys of every float field of a config model (sections recursed)."""
    from pydantic import BaseModel

    for name, field in model.model_fields.items():
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            yield from _float_keys(ann, f"{prefix}{name}.")
        elif ann is float or ann == (float | None):
            yield f"{prefix}{name}"


FLOAT_KEYS = sorted(_float_keys(Config))
THERAPY_ENTRIES = [
    {"kind": "checkpoint_blockade", "start_day": 1.0, "end_day": 2.0, "level": 1.0},
    {"kind": "vaccine", "start_day": 1.0, "end_day": 2.0, "recruitment_multiplier": 2.0},
    {"kind": "chemotherapy", "day": 1.0, "tumour_kill_prob": 0.5, "tcell_kill_prob": 0.1},
    {"kind": "adoptive_transfer", "day": 1.0, "cells": 5},
]
THERAPY_FLOATS = [(e, k) for e in THERAPY_ENTRIES for k, v in e.items() if isinstance(v, float)]


def test_every_float_key_is_covered():
    # The walk finds the float fields (a new section's floats join automatically).
    assert {"tumour.death_rate_per_day", "chemokine.diffusion_um2_per_min", "immune.speed_um_per_min",
            "outcome.equilibrium_band", "outcome.response_evaluation_day", "lattice.dx_um"} <= set(FLOAT_KEYS)
    assert len(FLOAT_KEYS) >= 25


@pytest.mark.parametrize("value", ["inf", "-inf", "nan"])
@pytest.mark.parametrize("key", FLOAT_KEYS)
def test_non_finite_rejected_in_every_float(key, value):
    with pytest.raises(InputError) as err:
        apply_overrides(Config(), [f"{key}={value}"])
    msg = str(err.value)
    assert msg.startswith(f"--set: {key}: ") and "\n" not in msg, msg


@pytest.mark.parametrize("value", [math.inf, math.nan])
@pytest.mark.parametrize("entry,key", THERAPY_FLOATS, ids=[f"{e['kind']}.{k}" for e, k in THERAPY_FLOATS])
def test_non_finite_rejected_in_every_therapy_float(entry, key, value):
    with pytest.raises(InputError) as err:
        validate({"therapy": [{**entry, key: value}]}, "x.toml")
    assert f"x.toml: therapy.0.{entry['kind']}.{key}: Input should be a finite number" in str(err.value)


@pytest.mark.parametrize("item,fragment", [
    ("chemokine.diffusion_um2_per_min=1e12", "chemokine.diffusion_um2_per_min: 1e+12 needs 2.5e+10 stable "
     "diffusion substeps per step, above the ceiling of 10000"),
    ("chemokine.diffusion_um2_per_min=1e308", "chemokine.diffusion_um2_per_min: 1e+308 needs inf stable "
     "diffusion substeps per step, above the ceiling of 10000"),
    ("chemokine.diffusion_substeps=10001", "chemokine.diffusion_substeps: 10001 is above the ceiling of 10000"),
    ("immune.speed_um_per_min=1e9", "immune.speed_um_per_min: 1e+09 um/min gives 1e+09 T-cell moves per step "
     "(speed x dt / dx), above the ceiling of 10000"),
])
def test_substeps_and_moves_above_the_ceiling_are_refused(item, fragment):
    assert str(MAX_SUBSTEPS_PER_STEP) in fragment
    with pytest.raises(InputError) as err:
        apply_overrides(Config(), [item])
    assert fragment in str(err.value) and "\n" not in str(err.value)


def test_the_ceiling_leaves_one_day_steps_runnable():
    # The slowest documented case: one-day steps, 3D, T cells at 10 um/min.
    cfg = apply_overrides(Config(), ["simulation.dt_minutes=1440", "lattice.shape=[8,8,8]",
                                     "immune.speed_um_per_min=10"])
    assert cfg.chemokine_substeps() == 5400 and cfg.tcell_moves() == 1440
    assert 10 * 5400 > MAX_SUBSTEPS_PER_STEP
    apply_overrides(Config(), ["immune.enabled=false", "immune.speed_um_per_min=1e9"])  # no T cells, no moves


@pytest.mark.parametrize("item,fragment", [
    ("immune.engagement_arrest_minutes=2560", "immune.engagement_arrest_minutes: 2560 min is 256 steps of 10 min, "
     "above the ceiling of 255"),
    ("immune.engagement_arrest_minutes=-1", "immune.engagement_arrest_minutes: Input should be greater than or equal"),
])
def test_bad_arrest_times_are_refused(item, fragment):
    with pytest.raises(InputError) as err:
        apply_overrides(Config(), [item])
    assert fragment in str(err.value) and "\n" not in str(err.value)


def test_arrest_time_in_steps_and_left_out_of_stored_configs_when_off():
    assert apply_overrides(Config(), ["immune.engagement_arrest_minutes=2550"]).tcell_arrest_steps() == 255
    assert apply_overrides(Config(), ["immune.engagement_arrest_minutes=1"]).tcell_arrest_steps() == 1  # at least one
    assert "engagement_arrest_minutes" not in Config().to_toml()  # run files of configs without it keep their bytes
    assert "engagement_arrest_minutes = 360.0" in apply_overrides(Config(), ["immune.engagement_arrest_minutes=360"]).to_toml()


@pytest.mark.parametrize("text", ["", "# only a comment\n\n"])
def test_empty_config_file_is_an_error(tmp_path, text):
    path = tmp_path / "empty.toml"
    path.write_text(text)
    with pytest.raises(InputError, match=f"{path}: empty config"):
        load_config(path)
