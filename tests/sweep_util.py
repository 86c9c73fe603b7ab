"""Helpers shared by the sweep tests: sweep files in a temp dir, MPI
launchers, comparing the run files of two sweeps (running ``gpusim`` in a
subprocess: ``conftest.gpusim``)."""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

import h5py
import pytest
import tomli_w
from conftest import datasets

ROOT = Path(__file__).parents[1]
CONFIGS = ROOT / "configs"
SMALL = CONFIGS / "sweep_small.toml"


def mpiexec() -> Path:
    return Path(sys.executable).parent / "mpiexec"


#: The untreated arm of a trial (``[[arms]]``).
CONTROL = {"name": "control", "therapy": "none"}


def arms_toml(*arms: dict) -> str:
    """The ``[[arms]]`` tables of a sweep or calibration spec, each arm a
    dict (``name``, ``therapy``: "none" or a list of therapy entries)."""
    return tomli_w.dumps({"arms": list(arms)})


def write_sweep(tmp: Path, body: str, base_set: str | dict = "") -> Path:
    """A sweep file over configs/quickstart.toml (copied next to it);
    ``base_set``: its ``[base.set]`` lines, or {"key.path": value}."""
    from gpusim.config import toml_value

    shutil.copy(CONFIGS / "quickstart.toml", tmp / "quickstart.toml")
    if isinstance(base_set, dict):
        base_set = "\n".join(f"{key} = {toml_value(value)}" for key, value in base_set.items())
    path = tmp / "sweep.toml"
    path.write_text(f'{body}\n[base]\nconfig = "quickstart.toml"\n[base.set]\n{base_set}\n')
    return path


def run_files(out_dir: Path) -> list[Path]:
    return sorted((Path(out_dir) / "runs").glob("*.h5"))


def assert_each_run_once(out_dir: Path, run_ids) -> None:
    """runs/ holds exactly one complete file per run (and its XDMF sidecar),
    nothing partial, nothing else."""
    names = sorted(p.name for p in (Path(out_dir) / "runs").iterdir())
    assert [n for n in names if n.endswith(".h5")] == sorted(f"{i}.h5" for i in run_ids)
    assert set(names) <= {f"{i}{ext}" for i in run_ids for ext in (".h5", ".xmf")}, names


def assert_same_runs(a_dir: Path, b_dir: Path) -> int:
    """Both sweeps hold the same complete run files, and every dataset under
    /observables, /fields and /clones is byte-identical; returns how many."""
    a_files, b_files = run_files(a_dir), run_files(b_dir)
    assert [p.name for p in a_files] == [p.name for p in b_files]
    assert not list((Path(b_dir) / "runs").glob("*.part")), "leftover .part files"
    for pa, pb in zip(a_files, b_files):
        for p in (pa, pb):
            with h5py.File(p) as f:
                assert f.attrs["status"] == "complete", p
        da, db = datasets(pa), datasets(pb)
        assert sorted(da) == sorted(db) and len(da) > 10, pa.name
        for name in da:
            assert da[name].dtype == db[name].dtype, (pa.name, name)
            assert da[name].tobytes() == db[name].tobytes(), (pa.name, name)
    return len(a_files)


#: A grid of 3 x 2 arms x 2 replicates (written with tomli_w, so that the
#: tests hold Python values, not copies of TOML text).
SLOW_GRID = tomli_w.dumps({
    "seed": 11,
    "replicates": 2,
    "grid": [{"key": "tumour.mutations_per_division", "values": [0.08, 0.3, 0.8]}],
    "arms": [{"name": "control", "therapy": "none"},
             {"name": "blockade",
              "therapy": [{"kind": "checkpoint_blockade", "start_day": 1.0, "end_day": 10.0, "level": 0.9}]}],
})
# About a second per run on one core: long enough to kill runs in flight,
# short enough for CI (the immune model is off: these tests are about the
# sweep machinery, and T cells would make each run several times longer).
SLOW_BASE = ("lattice.shape = [96, 96]\nsimulation.steps = 3000\noutput.frame_every_steps = 1000\n"
             "immune.enabled = false")


def wait_for(out: Path, complete: int, ended, timeout: float = 120, just_started: bool = False) -> None:
    """Until at least ``complete`` runs are done and one is in flight;
    ``just_started``: one has just started (a ``.part`` file the previous
    look did not see).  A run seen merely in flight may be in its last steps
    and end before a signal forwarded by mpiexec reaches it; one that just
    began has a whole run (a second or more) ahead of it.  ``ended()`` says
    why the sweep stopped early (None while it runs)."""
    deadline = time.monotonic() + timeout
    # With just_started, the .part files of the previous look (the first look only records them).
    seen = set((out / "runs").glob("*.part")) if just_started else set()
    while time.monotonic() < deadline:
        parts = set((out / "runs").glob("*.part"))
        if parts - seen and len(run_files(out)) >= complete:
            return
        if just_started:
            seen = parts
        why = ended()
        assert why is None, f"sweep ended before it could be interrupted: {why}"
        time.sleep(0.05)
    pytest.fail(f"{out}: {complete} runs not done within {timeout} s")


def popen_ended(proc):
    return lambda: None if proc.poll() is None else str(proc.communicate())
