"""Bad run files given to resume, summarize and plot: one line naming the
file and the problem, exit code 2, nothing written."""

from __future__ import annotations

import h5py
import pytest

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
    data = quickstart_run.read_bytes()
    if kind == "truncated":
        path.write_bytes(data[: len(data) // 2])
        return path, "damaged or truncated HDF5 file (truncated file"
    if kind == "missing_dataset":
        path.write_bytes(data)
        with h5py.File(path, "r+") as f:
            del f["observables/tumour_cells/value"]
        return path, "missing dataset /observables/tumour_cells/value"
    raise ValueError(kind)


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
    path = tmp_path / "run.h5"
    path.write_bytes(quickstart_run.read_bytes())
    with h5py.File(path, "r+") as f:
        del f["checkpoint"]
    capsys.readouterr()
    assert main(["resume", str(path), "--steps", "10"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"gpusim: error: {path}: has no checkpoint (/checkpoint) to resume from"]


def test_plot_missing_field(tmp_path, quickstart_run, capsys):
    path = tmp_path / "run.h5"
    path.write_bytes(quickstart_run.read_bytes())
    with h5py.File(path, "r+") as f:
        del f["fields/tumour_clone/value"]
    capsys.readouterr()
    assert main(["plot", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{path}: missing dataset /fields/tumour_clone/value" in err[0]


@pytest.mark.parametrize("command", ["summarize", "plot"])
def test_directory_that_is_not_a_sweep(command, tmp_path, capsys):
    assert main([command, str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{tmp_path}: not a sweep directory" in err[0]
