"""Bad run files given to resume, summarize and plot: one line naming the
file and the problem, exit code 2, nothing written."""

from __future__ import annotations

import h5py
import pytest
from conftest import assert_one_line_error, cli

from gpusim.cli.main import main

COMMANDS = ["resume", "summarize", "plot"]


def make_bad(kind: str, tmp_path, quickstart_run):
    path = tmp_path / f"{kind}.h5"
    if kind == "missing":
        return path, "no such file"
    if kind == "not_hdf5":
        path.write_text("step,tumour_cells\n0,29\n")
        return path, "not an HDF5 file"
    if kind == "foreign_hdf5":
        with h5py.File(path, "w") as f:
            f["data"] = [1, 2, 3]
        return path, "not a gpusim run file"
    if kind == "truncated":
        data = quickstart_run.read_bytes()
        path.write_bytes(data[: len(data) // 2])
        return path, "damaged or truncated HDF5 file (truncated file"
    if kind == "missing_dataset":
        return copy_without(quickstart_run, path, "observables/tumour_cells/value"), \
            "missing dataset /observables/tumour_cells/value"
    raise ValueError(kind)


def copy_without(run, path, dataset: str):
    """A copy of the run file ``run`` at ``path`` with ``dataset`` (or group) deleted."""
    path.write_bytes(run.read_bytes())
    with h5py.File(path, "r+") as f:
        del f[dataset]
    return path


@pytest.mark.parametrize("kind", ["missing", "not_hdf5", "foreign_hdf5", "truncated", "missing_dataset"])
@pytest.mark.parametrize("command", COMMANDS)
def test_bad_file_one_line_exit_2(command, kind, tmp_path, quickstart_run, capsys):
    path, problem = make_bad(kind, tmp_path, quickstart_run)
    before = path.read_bytes() if path.exists() else None
    capsys.readouterr()
    extra = ["--steps", "10"] if command == "resume" else []
    assert main([command, str(path), *extra]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("gpusim: error: ") and str(path) in err[0] and problem in err[0], err[0]
    if before is not None:
        assert path.read_bytes() == before
    assert not path.with_suffix(".png").exists()


def test_resume_without_checkpoint(tmp_path, quickstart_run, capsys):
    path = copy_without(quickstart_run, tmp_path / "run.h5", "checkpoint")
    proc = cli(capsys, "resume", path, "--steps", "10")
    assert_one_line_error(proc)
    assert proc.stderr.strip() == f"gpusim: error: {path}: has no checkpoint (/checkpoint) to resume from"


def test_plot_missing_field(tmp_path, quickstart_run, capsys):
    path = copy_without(quickstart_run, tmp_path / "run.h5", "fields/tumour_clone/value")
    assert_one_line_error(cli(capsys, "plot", path), f"{path}: missing dataset /fields/tumour_clone/value")


@pytest.mark.parametrize("command", ["summarize", "plot"])
def test_directory_that_is_not_a_sweep(command, tmp_path, capsys):
    assert main([command, str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{tmp_path}: not a sweep directory" in err[0]
