"""gpusim.tissue: tissue sections (cell tables, AnnData, label images) as
initial states, the export round trip, and one-line errors for bad sections."""

from __future__ import annotations

import shutil
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import tomli_w

import gpusim
from conftest import assert_one_line_error, assert_same_run, cli
from gpusim.config import Config
from gpusim.errors import InputError
from gpusim.io.checkpoint import read_checkpoint
from gpusim.tissue import section_state

DATA = Path(__file__).parent / "data"

#: A small run with clones, escape flags and T cells: the frame exported
#: and fed back must carry every layer the cell table holds.
SOURCE = tomli_w.dumps({
    "simulation": {"seed": 5, "steps": 100}, "lattice": {"shape": [40, 40]},
    "tumour": {"initial_radius_cells": 4.0, "mutations_per_division": 1.0, "neoantigen_fraction": 0.5,
               "pdl1_prob_per_division": 0.2},
    "immune": {"vessel_density": 0.05, "recruitment_rate_per_day": 5.0},
    "output": {"frame_every_steps": 50, "checkpoint_every_steps": 0}})


@pytest.fixture(scope="module")
def source_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("source")
    (d / "source.toml").write_text(SOURCE)
    run = d / "source.h5"
    from gpusim.cli.main import main

    assert main(["run", str(d / "source.toml"), "-o", str(run), "--backend", "cpu", "-q", "--analyse"]) == 0
    return d / "source.toml", run


def frame_layers(run: Path, frame: int):
    with gpusim.open_run(run) as r:
        return (r.frames("tumour_clone")[frame].ravel(), r.frames("tcells")[frame].ravel(),
                r.clones, int(r.frames("tumour_clone").steps[frame]), r.analysis)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_exported_frame_fed_back_is_that_frame(source_run, tmp_path, capsys, caplog, fmt):
    config, run = source_run
    clone, tcells, clones, step, analysis = frame_layers(run, 1)
    assert len(np.unique(clone)) > 3 and (tcells > 0).sum() > 3  # the frame has clones and T cells
    assert (clones["flags"].to_numpy()[np.unique(clone[clone > 0])] != 0).any()  # and a PD-L1 clone
    assert cli(capsys, "export", run, "--to", fmt, "-o", tmp_path, "--frame", "1").returncode == 0
    table = tmp_path / f"source_cells_step{step}.{fmt}"
    out = tmp_path / "again.h5"
    proc = cli(capsys, "run", config, "--initial", table, "--steps", "0", "-o", out, "--backend", "numpy")
    assert proc.returncode == 0, proc.stderr
    assert f"{table.name}: {int(((clone > 0) | (tcells > 0)).sum())} read" in caplog.text
    assert "dropped 0" in caplog.text
    again_clone, again_tcells, again_clones, again_step, _ = frame_layers(out, 0)
    assert again_step == 0
    np.testing.assert_array_equal(again_clone, clone)
    np.testing.assert_array_equal(again_tcells, tcells)
    present = np.unique(clone[clone > 0])
    for column in ("flags", "recognition"):
        np.testing.assert_array_equal(again_clones[column].to_numpy()[present], clones[column].to_numpy()[present])
    np.testing.assert_array_equal(again_clones["population"].to_numpy()[present],
                                  np.bincount(clone, minlength=present.max() + 1)[present])
    with h5py.File(out, locking=False) as f, h5py.File(run, locking=False) as g:  # vessels: the config's draw
        vessels = [read_checkpoint(h).state.sites["vessel"] for h in (f, g)]
    np.testing.assert_array_equal(*vessels)
    with gpusim.open_run(out) as r:  # the run file names the section and its hash
        assert r.config.initial.file == str(table.resolve()) and len(r.config.initial.sha256) == 64
    # The section's own phenotype, computed by gpusim analyse exactly as for the simulated frame.
    assert cli(capsys, "analyse", out, "-q").returncode == 0
    with gpusim.open_run(out) as r:
        mine = r.analysis.iloc[0]
    theirs = analysis[analysis["step"] == step].iloc[0]
    for column in ("phenotype", "tcell_density_core_per_mm2", "tcell_density_margin_per_mm2", "tumour_radius_um"):
        assert mine[column] == theirs[column], column


def test_section_runs_identical_on_numpy_and_cpu_and_resume(source_run, tmp_path, capsys):
    config, run = source_run
    assert cli(capsys, "export", run, "--to", "csv", "-o", tmp_path, "--frame", "1").returncode == 0
    table = next(tmp_path.glob("source_cells_step*.csv"))
    files = {}
    for backend in ("numpy", "cpu"):
        files[backend] = tmp_path / f"{backend}.h5"
        proc = cli(capsys, "run", config, "--initial", table, "--steps", "20", "-o", files[backend],
                   "--backend", backend, "-q")
        assert proc.returncode == 0, proc.stderr
    assert_same_run(files["cpu"], files["numpy"])
    part = tmp_path / "part.h5"
    assert cli(capsys, "run", config, "--initial", table, "--steps", "8", "-o", part, "--backend", "cpu",
               "-q").returncode == 0
    assert cli(capsys, "resume", part, "--steps", "12", "--backend", "cpu", "-q").returncode == 0
    assert_same_run(part, files["cpu"])


def test_anndata_section_written_by_anndata(tmp_path):
    # tests/data/section.h5ad was written by anndata 0.12.19 (pandas 2.3.3):
    # 6 cells, obsm["spatial"] in 0.5 um pixels, obs: cell_type (categorical), clone, pdl1.
    cfg = Config.model_validate({"lattice": {"shape": [12, 12]}, "initial": {
        "file": str(DATA / "section.h5ad"), "um_per_unit": 0.5, "vessels": "section",
        "cell_types": {"Tumor": "tumour", "CD8+ T": "tcell", "Endothelial": "vessel", "B cell": "ignore"}}})
    st, report = section_state(cfg)
    site = lambda x, y: x + 12 * y  # noqa: E731
    assert np.flatnonzero(st.sites["clone"]).tolist() == [site(5, 5), site(6, 5)]
    assert st.sites["clone"][[site(5, 5), site(6, 5)]].tolist() == [1, 2]
    assert np.flatnonzero(st.sites["tcell"]).tolist() == [site(5, 5)]
    assert st.sites["tcell"][site(5, 5)] == 128 | cfg.immune.kills_per_tcell
    assert np.flatnonzero(st.sites["vessel"]).tolist() == [site(1, 2)]
    assert st.clones["flags"][:3].tolist() == [0, 0, 1] and st.clones["population"][:3].tolist() == [0, 1, 1]
    # the 5th cell (tumour, clone 2) lands on the 2nd's site: first row wins
    assert report.rows == 6 and report.dropped == {"ignored": 1, "tumour": 1}


def test_label_image_sampled_at_site_centres(tmp_path):
    import tifffile  # the test extra has it
    image = np.zeros((40, 60), dtype=np.uint16)  # 2 um pixels: 80 x 120 um
    image[10:30, 10:30] = 7  # tumour: x, y in [20, 60) um
    image[4, 50] = 9  # one T cell pixel at (100, 8) um: the site (10, 1) centre is (100, 10) um -> pixel (50, 5)
    image[5, 50] = 9
    image[35:40, 0:5] = 3  # mapped to ignore
    path = tmp_path / "labels.tif"
    tifffile.imwrite(path, image)
    cfg = Config.model_validate({"lattice": {"shape": [12, 8]}, "initial": {
        "file": str(path), "um_per_unit": 2.0, "vessels": "section",
        "cell_types": {"7": "tumour", "9": "tcell", "3": "ignore"}}})
    st, report = section_state(cfg)
    clone = st.sites["clone"].reshape(8, 12)
    # site (x, y) centre (10x, 10y) um = pixel (5x, 5y): tumour where 10 <= 5x < 30
    expected = np.zeros((8, 12), np.uint32)
    expected[2:6, 2:6] = 1
    np.testing.assert_array_equal(clone, expected)
    assert np.flatnonzero(st.sites["tcell"]).tolist() == [10 + 12 * 1]
    assert st.clones["population"][1] == 16 and st.n_clones == 2
    assert report.placed == {"tumour": 16, "tcell": 1, "vessel": 0} and report.dropped == {"ignored": 25}


def section_config(tmp_path, table: pd.DataFrame, **initial) -> Path:
    path = tmp_path / "section.csv"
    table.to_csv(path, index=False)
    extra = "".join(f"{k} = {v}\n" for k, v in initial.items())
    (tmp_path / "cfg.toml").write_text(f"[lattice]\nshape = [20, 20]\n[simulation]\nsteps = 5\n"
                                       f"[initial]\nfile = \"section.csv\"\n{extra}")
    return tmp_path / "cfg.toml"


GOOD = pd.DataFrame({"x_um": [50.0, 60.0, 70.0], "y_um": [50.0, 50.0, 50.0], "cell_type": ["T", "T", "cd8"]})


@pytest.mark.parametrize("table, initial, fragments", [
    (GOOD.drop(columns="y_um"), {}, ["section.csv", "no column 'y_um'"]),
    (GOOD, {}, ["section.csv", "unknown cell type 'T' (2 rows)", "[initial.cell_types]"]),
    (GOOD.assign(x_um=[50.0, 400.0, 70.0]), {"cell_types": '{T = "tumour", cd8 = "tcell"}'},
     ["1 point outside the lattice", "row 2", "x_um=400.0"]),
    (GOOD.assign(y_um=[50.0, np.nan, 70.0]), {"cell_types": '{T = "tumour", cd8 = "tcell"}'},
     ["row 2", "y_um", "not a finite number"]),
    (GOOD.assign(clone=[1, 1, 0], pdl1=[True, False, False]), {"cell_types": '{T = "tumour", cd8 = "tcell"}'},
     ["row 2", "clone 1 has pdl1/hla/r different"]),
    (GOOD.rename(columns={"cell_type": "kind"}), {}, ["no column 'cell_type'", "[initial.columns]"]),
])
def test_bad_section_one_line_nothing_written(tmp_path, capsys, table, initial, fragments):
    config = section_config(tmp_path, table, **initial)
    out = tmp_path / "out.h5"
    assert_one_line_error(cli(capsys, "run", config, "-o", out, "--backend", "numpy", "-q"), *fragments)
    assert not out.exists()


def test_section_files_named_and_checked(tmp_path, capsys, caplog):
    config = section_config(tmp_path, GOOD, cell_types='{T = "tumour", cd8 = "tcell"}',
                            columns='{cell_type = "cell_type"}')
    out = tmp_path / "out.h5"
    assert_one_line_error(cli(capsys, "run", config, "--initial", tmp_path / "nope.csv", "-o", out), "nope.csv",
                          "no such file")
    (tmp_path / "bad.xlsx").write_text("x")
    assert_one_line_error(cli(capsys, "run", config, "--initial", tmp_path / "bad.xlsx", "-o", out),
                          "unknown section format")
    assert not out.exists()
    proc = cli(capsys, "run", config, "-o", out, "--backend", "numpy")
    assert proc.returncode == 0 and "section.csv: 3 read; placed 2 tumour, 1 tcell, 0 vessel" in caplog.text
    # The stored config names the file and its hash: a changed file is refused.
    with gpusim.open_run(out) as r:
        stored = r.config
    (tmp_path / "section.csv").write_text("x_um,y_um,cell_type\n50,50,T\n")
    from gpusim.tissue import load_section

    with pytest.raises(InputError, match="the file changed"):
        load_section(stored)


def test_section_in_a_sweep_base(tmp_path, capsys):
    shutil.copy(DATA / "section.h5ad", tmp_path / "s.h5ad")
    (tmp_path / "base.toml").write_text(
        "[lattice]\nshape = [12, 12]\n[simulation]\nsteps = 4\n[output]\nframe_every_steps = 2\n"
        "[initial]\num_per_unit = 0.5\n"
        "cell_types = {Tumor = \"tumour\", \"CD8+ T\" = \"tcell\", Endothelial = \"vessel\", "
        "\"B cell\" = \"ignore\"}\n")
    (tmp_path / "sweep.toml").write_text(
        "seed = 3\nreplicates = 2\n[base]\nconfig = \"base.toml\"\ninitial = \"s.h5ad\"\n")
    proc = cli(capsys, "run", tmp_path / "base.toml", "-o", tmp_path / "x.h5")  # the base alone names no file
    assert_one_line_error(proc, "[initial] names no file: give one with --initial FILE")
    assert not (tmp_path / "x.h5").exists()
    proc = cli(capsys, "sweep", tmp_path / "sweep.toml", "-o", tmp_path / "out", "--backend", "cpu")
    assert proc.returncode == 0, proc.stderr
    runs = sorted((tmp_path / "out" / "runs").glob("*.h5"))
    assert len(runs) == 2
    for run in runs:
        with gpusim.open_run(run) as r:
            assert int((r.frames("tumour_clone")[0] > 0).sum()) == 2


def test_3d_table_and_z_rules(tmp_path):
    path = tmp_path / "cells.parquet"
    pd.DataFrame({"X": [0.0, 30.0, 30.0, 70.0], "Y": [0.0, 20.0, 20.0, 70.0], "Z": [0.0, 40.0, 44.0, 10.0],
                  "cell_type": ["tumour", "tumour", "tumour", "tcell"], "r": [0.25, 0.5, 0.5, 0.0]}).to_parquet(path)
    cfg = Config.model_validate({"lattice": {"shape": [8, 8, 8]}, "initial": {
        "file": str(path), "columns": {"x_um": "X", "y_um": "Y", "z_um": "Z"}}})
    st, report = section_state(cfg)
    site = lambda x, y, z: x + 8 * (y + 8 * z)  # noqa: E731
    assert np.flatnonzero(st.sites["clone"]).tolist() == [site(0, 0, 0), site(3, 2, 4)]
    assert st.sites["clone"][[site(0, 0, 0), site(3, 2, 4)]].tolist() == [1, 2]  # clones by distinct r
    assert st.clones["recognition"][1:3].tolist() == [2**30, 2**31]
    assert np.flatnonzero(st.sites["tcell"]).tolist() == [site(7, 7, 1)]
    assert report.dropped == {"tumour": 1}
    flat = Config.model_validate({"lattice": {"shape": [8, 8]}, "initial": {
        "file": str(path), "columns": {"x_um": "X", "y_um": "Y", "z_um": "Z"}}})
    with pytest.raises(InputError, match="has z_um but the lattice is 2D"):
        section_state(flat)
