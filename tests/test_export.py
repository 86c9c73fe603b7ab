"""gpusim export: the tables read back with pandas to the values open_run gives."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

import gpusim
from gpusim.cli.main import main


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_run_tables_read_back_to_open_run_values(quickstart_run, tmp_path, fmt, capsys):
    path = shutil.copy(quickstart_run, tmp_path / "run.h5")
    assert main(["analyse", str(path), "-q"]) == 0
    out = tmp_path / "tables"
    assert main(["export", str(path), "--to", fmt, "-o", str(out), "--frame", "1"]) == 0
    # round_trip: the CSV holds every digit; pandas < 3's default float parser may miss the last one
    # (pandas 3 parses exactly by default and deprecates the argument).
    exact = {"float_precision": "round_trip"} if int(pd.__version__.split(".")[0]) < 3 else {}
    read = (lambda p: pd.read_csv(p, **exact)) if fmt == "csv" else pd.read_parquet
    with gpusim.open_run(path) as run:
        obs = read(out / f"run_observables.{fmt}")
        expected = run.observables
        assert list(obs.columns) == ["time_day", *expected.columns]
        np.testing.assert_array_equal(obs["time_day"], expected.index)
        for name in expected.columns:
            np.testing.assert_array_equal(obs[name], expected[name], err_msg=name)
        step = int(run.frames("tumour_clone").steps[1])
        cells = read(out / f"run_cells_step{step}.{fmt}")
        clone, tcells = run.frames("tumour_clone")[1], run.frames("tcells")[1]
        assert len(cells) == int(((clone > 0) | (tcells >= 128)).sum())
        np.testing.assert_array_equal(cells["clone"], clone[cells["y"], cells["x"]])
        np.testing.assert_array_equal(cells["tcell"], tcells[cells["y"], cells["x"]] >= 128)
        np.testing.assert_array_equal(cells["tcell_kills_left"], tcells[cells["y"], cells["x"]] & 15)
        flags = run.clones["flags"].to_numpy()[cells["clone"]]
        np.testing.assert_array_equal(cells["pdl1"], (flags & 1 != 0) & (cells["clone"] > 0))
        clones = read(out / f"run_clones.{fmt}")
        expected = run.clones.reset_index()
        assert list(clones.columns) == list(expected.columns)
        for name in expected.columns:
            np.testing.assert_array_equal(clones[name], expected[name], err_msg=name)
        analysis = read(out / f"run_analysis.{fmt}")
        expected = run.analysis
        np.testing.assert_array_equal(analysis["phenotype"], expected["phenotype"])
        np.testing.assert_allclose(analysis["tcell_density_margin_per_mm2"], expected["tcell_density_margin_per_mm2"])


def test_bad_export_input_one_line_exit_2(quickstart_run, tmp_path, capsys):
    path = shutil.copy(quickstart_run, tmp_path / "run.h5")
    cases = [(["export", str(path), "--to", "xlsx"], "--to xlsx: must be one of csv, parquet"),
             (["export", str(tmp_path / "nope.h5")], "nope.h5: no such file"),
             (["export", str(path), "--frame", "9", "-o", str(tmp_path / "t")], "--frame 9: "),
             (["export", str(tmp_path)], "runs.json")]
    for args, message in cases:
        assert main(args) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0], err
    assert not (tmp_path / "t").exists()  # the bad --frame wrote nothing, not even the folder
