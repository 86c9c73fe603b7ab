"""The command line: runs, and bad input gives one line and exit code 2
with nothing written.  One run goes through ``python -m gpusim`` in a
subprocess (the entry point itself); the rest call ``main()`` in process
(``conftest.cli``): the same parser and error handling, without paying an
interpreter start-up and the numpy/h5py imports per case."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import pytest
from conftest import assert_one_line_error, cli, gpusim

ROOT = Path(__file__).parents[1]
QUICKSTART = ROOT / "configs" / "quickstart.toml"


SMALL = ["--set", "lattice.shape=[40,40]", "--steps", "30"]


def test_run_writes_complete_file(tmp_path):
    out = tmp_path / "q.h5"
    proc = gpusim("run", QUICKSTART, "-o", out, "--backend", "cpu", *SMALL)
    assert proc.returncode == 0, proc.stderr
    with h5py.File(out) as f:
        assert f.attrs["status"] == "complete"
        assert f["parameters"].attrs["backend"] == "cpu"
        assert "shape = [\n    40,\n    40,\n]" in f["parameters"].attrs["config"]
        assert len(f["observables/tumour_cells/value"]) == 31


def test_default_output_name_and_no_clobber(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = tmp_path / "scen.toml"
    cfg.write_text(QUICKSTART.read_text())
    assert cli(capsys, "run", cfg, *SMALL, "-q", "--backend", "cpu").returncode == 0
    out = tmp_path / "scen.h5"
    assert out.exists()
    before = out.read_bytes()
    proc = cli(capsys, "run", cfg, *SMALL, "--backend", "cpu")
    assert_one_line_error(proc, "scen.h5", "already exists")
    assert out.read_bytes() == before
    assert cli(capsys, "run", cfg, *SMALL, "--overwrite", "-q", "--backend", "cpu").returncode == 0


BAD_CONFIGS = {
    "range.toml": ("[tumour]\ndeath_rate_per_day = -0.5\n", "tumour.death_rate_per_day"),
    "unknown.toml": ("[tumour]\nspeed = 3\n", "tumour.speed: unknown key"),
    "malformed.toml": ("[tumour\n", "malformed TOML"),
    "type.toml": ("[simulation]\nsteps = 'many'\n", "simulation.steps"),
}


@pytest.mark.parametrize("name", sorted(BAD_CONFIGS))
def test_bad_config_exit_2_nothing_written(tmp_path, capsys, name):
    text, fragment = BAD_CONFIGS[name]
    cfg = tmp_path / name
    cfg.write_text(text)
    out = tmp_path / "out.h5"
    proc = cli(capsys, "run", cfg, "-o", out)
    assert_one_line_error(proc, name, fragment)
    assert not out.exists()


@pytest.mark.parametrize("args,fragments", [
    (["--set", "tumour.nope=1"], ["tumour.nope: unknown key"]),
    (["--set", "tumour.death_rate_per_day"], ["expected key.path=value"]),
    (["--set", "lattice.shape=[0,3]"], ["lattice.shape"]),
    (["--steps", "-3"], ["simulation.steps"]),
    (["--backend", "quantum"], ["quantum"]),
])
def test_bad_override_exit_2_nothing_written(tmp_path, capsys, args, fragments):
    out = tmp_path / "out.h5"
    proc = cli(capsys, "run", QUICKSTART, "-o", out, *args)
    assert_one_line_error(proc, *fragments)
    assert not out.exists()


@pytest.mark.parametrize("item,fragments", [
    # issue 11's table: each accepted silently, hung or crashed before
    ("chemokine.diffusion_um2_per_min=1e12", ["chemokine.diffusion_um2_per_min", "ceiling of 10000"]),
    ("immune.speed_um_per_min=1e9", ["immune.speed_um_per_min", "ceiling of 10000"]),
    ("chemokine.diffusion_um2_per_min=inf", ["chemokine.diffusion_um2_per_min: Input should be a finite number"]),
    ("immune.speed_um_per_min=inf", ["immune.speed_um_per_min: Input should be a finite number"]),
    ("tumour.death_rate_per_day=inf", ["tumour.death_rate_per_day: Input should be a finite number"]),
    ("tumour.division_rate_per_day=inf", ["tumour.division_rate_per_day: Input should be a finite number"]),
    ("immune.kill_attempt_rate_per_day=inf", ["immune.kill_attempt_rate_per_day: Input should be a finite"]),
])
def test_non_finite_and_runaway_values_exit_2(tmp_path, capsys, item, fragments):
    out = tmp_path / "out.h5"
    assert_one_line_error(cli(capsys, "run", QUICKSTART, "-o", out, "--set", item), *fragments)
    assert not out.exists()


def test_empty_config_exit_2(tmp_path, capsys):
    (tmp_path / "empty.toml").write_text("# nothing yet\n")
    out = tmp_path / "out.h5"
    assert_one_line_error(cli(capsys, "run", tmp_path / "empty.toml", "-o", out), "empty.toml: empty config")
    assert not out.exists()


def test_missing_config_and_bad_output_dir(tmp_path, capsys):
    assert_one_line_error(cli(capsys, "run", tmp_path / "nope.toml"), "nope.toml: no such file")
    assert_one_line_error(cli(capsys, "run", QUICKSTART, "-o", tmp_path / "no" / "dir" / "x.h5"), "does not exist")
    assert_one_line_error(cli(capsys, "frobnicate"), "invalid choice")


def test_info_lists_backends(capsys):
    proc = cli(capsys, "info")
    assert proc.returncode == 0, proc.stderr
    for word in ("numpy", "cpu", "cuda", "C++ compiler", "auto ->"):
        assert word in proc.stdout


def test_bench_json_records(capsys):
    proc = cli(capsys, "bench", "--json", "--backend", "cpu", "--backend", "numpy", "--size", "32x32", "--size",
                  "8x8x8", "--steps", "2")
    assert proc.returncode == 0, proc.stderr
    records = json.loads(proc.stdout)
    assert {(r["backend"], tuple(r["shape"])) for r in records} == {
        ("cpu", (32, 32)), ("cpu", (8, 8, 8)), ("numpy", (32, 32)), ("numpy", (8, 8, 8))}
    for r in records:
        assert {"backend", "model", "shape", "steps", "site_updates_per_s", "bytes_per_site"} <= set(r)
        assert r["site_updates_per_s"] > 0 and r["steps"] == 2
        if r["backend"] == "cpu" and r["model"] == "tumour":
            assert r["bytes_per_site"] <= 16
        assert r["copy_bytes_per_s"] > 1e8  # a memcpy moves more than 100 MB/s anywhere
        if r["backend"] == "cpu":  # kernels state their traffic: the step's rate against the copy
            assert r["model_bytes_per_step"] > 0 and 0 < r["fraction_of_copy"] < 10
        else:
            assert r["fraction_of_copy"] is None


def test_bench_profile_prints_the_per_kernel_table(capsys):
    proc = cli(capsys, "bench", "--profile", "--backend", "cpu", "--size", "48x48", "--model", "full", "--steps", "2")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[1].split() == ["kernel", "launches", "ms/step", "MB/step", "of", "copy"]
    rows = {line.split()[0]: line.split() for line in lines[2:] if line.startswith("  ") and line.split()[0].islower()}
    for kernel in ("tumour_death", "tumour_divide_commit", "field_diffuse", "tcell_move_propose", "observe_clones"):
        assert kernel in rows, proc.stdout
    mp_moves = 2  # bench full model: 2 um/min x 10 min / 10 um
    assert float(rows["tcell_move_propose"][1]) == mp_moves
    assert "copy" in lines[-1] and "GB/s" in lines[-1]


def test_bench_bad_size(capsys):
    assert_one_line_error(cli(capsys, "bench", "--size", "12"), "bad --size")
