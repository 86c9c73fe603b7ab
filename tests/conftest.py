"""Shared fixtures: one test body runs on every available backend.

numpy and cpu always run (a missing C++ compiler is a failure, not a skip,
because CI must exercise the kernels); cuda runs where a GPU is present and
is skipped with its reason otherwise -- unless GPUSIM_REQUIRE_GPU=1, which
turns that skip into a failure on GPU machines.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from gpusim.backends import available
from gpusim.config import Config
from gpusim.simulation import Simulation

ALL_BACKENDS = ("numpy", "cpu", "cuda")


def require_backend(name: str) -> None:
    reason = available()[name]
    if reason is None:
        return
    if name == "cuda" and os.environ.get("GPUSIM_REQUIRE_GPU") != "1":
        pytest.skip(f"cuda backend unavailable: {reason}")
    pytest.fail(f"{name} backend unavailable: {reason}")


@pytest.fixture(params=[pytest.param(b, marks=pytest.mark.gpu if b == "cuda" else ()) for b in ALL_BACKENDS])
def backend(request) -> str:
    require_backend(request.param)
    return request.param


def make_config(**sections) -> Config:
    return Config.model_validate(sections)


def run_state(cfg: Config, backend: str, steps: int | None = None):
    """Run and return (host state, list of per-step observables)."""
    sim = Simulation(cfg, backend=backend)
    history = [dict(sim.last_observables)]
    for _ in range(cfg.simulation.steps if steps is None else steps):
        history.append(dict(sim.step()))
    return sim.state(), history


def assert_states_identical(a, b) -> None:
    assert a.step == b.step
    assert a.n_clones == b.n_clones
    for name in a.sites:
        np.testing.assert_array_equal(a.sites[name], b.sites[name], err_msg=f"site array {name}")
    assert sorted(a.extra) == sorted(b.extra)
    for name in a.extra:  # float32 chemokine compared bit for bit
        assert np.asarray(a.extra[name]).tobytes() == np.asarray(b.extra[name]).tobytes(), f"field {name}"
    ta, tb = a.clone_table(), b.clone_table()
    for name in ta:
        np.testing.assert_array_equal(ta[name], tb[name], err_msg=f"clone column {name}")


def run_cpu_in_subprocess(cfg: Config, threads: int) -> dict:
    """Run ``cfg`` on the cpu backend in a fresh process with
    OMP_NUM_THREADS=threads; return every state array as bytes (hex)."""
    import json
    import subprocess
    import sys

    code = (
        "import json, sys\n"
        "from gpusim.config import Config\nfrom gpusim.simulation import Simulation\n"
        "cfg = Config.model_validate(json.loads(sys.argv[1]))\n"
        "sim = Simulation(cfg, backend='cpu')\n"
        "assert sim.backend.device.threads == int(sys.argv[2])\n"
        "sim.run()\nst = sim.state()\n"
        "arrays = {**st.sites, **st.extra, **{'clone_' + k: v for k, v in st.clone_table().items()}}\n"
        "print(json.dumps({k: v.tobytes().hex() for k, v in arrays.items()}))\n"
    )
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    proc = subprocess.run([sys.executable, "-c", code, json.dumps(cfg.model_dump(mode="json")), str(threads)],
                          capture_output=True, text=True, env=env, check=True)
    return json.loads(proc.stdout)


QUICKSTART = Path(__file__).parents[1] / "configs" / "quickstart.toml"
SMALL_QUICKSTART = ["--set", "lattice.shape=[60,60]", "--steps", "300"]
THERAPY = ('therapy=[{kind = "checkpoint_blockade", start_day = 0.5, end_day = 1.5, level = 0.8}, '
           '{kind = "chemotherapy", day = 1.0, tumour_kill_prob = 0.3}, '
           '{kind = "vaccine", start_day = 1.2, end_day = 2.0, recruitment_multiplier = 2.0}]')


def make_run_file(path, *args) -> Path:
    """``gpusim run`` in-process (numpy backend: the same bytes as any other, and fast)."""
    from gpusim.cli.main import main

    assert main(["run", str(QUICKSTART), "-o", str(path), "--backend", "numpy", "-q", *SMALL_QUICKSTART,
                 *args]) == 0
    return Path(path)


@pytest.fixture(scope="session")
def quickstart_run(tmp_path_factory) -> Path:
    """The quickstart, shrunk to 60 x 60 sites and 300 steps (do not modify: shared)."""
    return make_run_file(tmp_path_factory.mktemp("quickstart") / "quickstart.h5")


@pytest.fixture(scope="session")
def therapy_run(tmp_path_factory) -> Path:
    """The shrunk quickstart with a therapy schedule (windows and a pulse)."""
    return make_run_file(tmp_path_factory.mktemp("therapy") / "therapy.h5", "--set", THERAPY)
