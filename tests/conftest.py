"""Shared fixtures: one test body runs on every available backend.

numpy and cpu always run (a missing C++ compiler is a failure, not a skip,
because CI must exercise the kernels); cuda runs where a GPU is present and
is skipped with its reason otherwise -- unless GPUSIM_REQUIRE_GPU=1, which
turns that skip into a failure on GPU machines.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from gpusim.backends import available
from gpusim.config import MINUTES_PER_DAY, Config
from gpusim.io.checkpoint import read_checkpoint
from gpusim.io.frames import xdmf_path
from gpusim.simulation import Simulation
from gpusim.state import initial_state

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


def _uniform(lo: float, hi: float):
    return lambda rng: float(rng.uniform(lo, hi))


def _integer(lo: int, hi: int):
    return lambda rng: int(rng.integers(lo, hi))


def _flag(rng) -> bool:
    return bool(rng.integers(0, 2))


def _drawn(rng, **draws) -> dict:
    """A config section of random values: key -> draw(rng), in this order."""
    return {key: draw(rng) for key, draw in draws.items()}


#: The tumour parameters the random configs draw, in draw order: key ->
#: (draw of random_tumour_config, draw of random_full_config).
_TUMOUR_DRAWS = {
    "initial_radius_cells": (_uniform(1, 3), _uniform(2, 4)),
    "initial_recognition": (_uniform(0, 0.3), _uniform(0.2, 0.6)),
    "division_rate_per_day": (_uniform(2, 8), _uniform(3, 8)),
    "death_rate_per_day": (_uniform(0.1, 1.0), _uniform(0.1, 0.5)),
    "max_divisions": (_integer(1, 8), _integer(2, 10)),
    "stem_symmetric_division_prob": (_uniform(0.2, 0.8), _uniform(0.3, 0.9)),
    "mutations_per_division": (_uniform(0.2, 4.0), _uniform(0.1, 3.0)),
    "pdl1_prob_per_division": (_uniform(0.01, 0.1), _uniform(0.05, 0.2)),
    "hla_loss_prob_per_division": (_uniform(0.01, 0.1), _uniform(0.01, 0.05)),
}


def _random_tumour(rng, full: bool, seed: int) -> dict:
    """The draws above, and the neoantigen fraction from a stream of its own
    (added with mutations v2: the other draws stay as they were)."""
    own = np.random.default_rng([seed, 12])
    return {**{key: draws[full](rng) for key, draws in _TUMOUR_DRAWS.items()},
            "neoantigen_fraction": float(own.uniform(0.2, 1.0) if full else own.uniform(0.1, 0.9))}


def random_tumour_config(seed: int, dim: int, neighbourhood: str, boundary: str, steps: int = 200):
    """A small lattice with every tumour rule switched on at high rates, and
    the immune system off (tests/test_tcell.py covers the full model)."""
    rng = np.random.default_rng(seed)
    shape = [int(rng.integers(20, 40)) for _ in range(2)] if dim == 2 else [int(rng.integers(8, 14)) for _ in range(3)]
    return make_config(
        simulation={"seed": int(rng.integers(0, 2**63)), "steps": steps, "dt_minutes": float(rng.uniform(30, 90))},
        lattice={"shape": shape, "neighbourhood": neighbourhood, "boundary": boundary},
        tumour={**_random_tumour(rng, full=False, seed=seed),
                "immunogenicity": {"distribution": "exponential", "mean": float(rng.uniform(0.05, 0.4))}},
        immune={"enabled": False},
    )


#: Every lattice kind: (dim, neighbourhood, boundary).
CASES = [(dim, nb, bc) for dim in (2, 3) for nb in ("von_neumann", "moore") for bc in ("closed", "periodic")]


def every_case_against_reference(test):
    """Parametrize ``test(dim, neighbourhood, boundary, other)`` over CASES and
    the kernel backends (cpu; cuda, marked gpu) to compare with numpy."""
    test = pytest.mark.parametrize("other", ["cpu", pytest.param("cuda", marks=pytest.mark.gpu)])(test)
    return pytest.mark.parametrize("dim,neighbourhood,boundary", CASES)(test)


def run_against_reference(cfg: Config, other: str):
    """Run ``cfg`` on numpy and on ``other``; assert identical states and
    observables; return the reference's (state, observables per step)."""
    require_backend(other)
    ref, ref_obs = run_state(cfg, "numpy")
    got, got_obs = run_state(cfg, other)
    assert_states_identical(ref, got)
    assert ref_obs == got_obs
    return ref, ref_obs


def random_full_config(seed: int, dim: int, neighbourhood: str, boundary: str, steps: int = 200):
    """Every tumour and immune rule on, every therapy in the schedule."""
    rng = np.random.default_rng(seed)
    shape = [int(rng.integers(24, 40)) for _ in range(2)] if dim == 2 else [int(rng.integers(10, 16)) for _ in range(3)]
    dt = float(rng.uniform(10, 30))
    days = steps * dt / MINUTES_PER_DAY
    return make_config(
        simulation={"seed": int(rng.integers(0, 2**63)), "steps": steps, "dt_minutes": dt},
        lattice={"shape": shape, "neighbourhood": neighbourhood, "boundary": boundary},
        tumour=_random_tumour(rng, full=True, seed=seed),
        chemokine={"grid_coarsening": int(rng.integers(1, 5)), "diffusion_um2_per_min": float(rng.uniform(50, 300)),
                   "kill_burst": float(rng.uniform(10, 100))},
        immune={  # grouped by rule: recruitment, movement, killing, expansion, exhaustion, life
            "vessel_density": float(rng.uniform(0.03, 0.1)), "recruitment_rate_per_day": float(rng.uniform(5, 20)),
            "recruitment_half_saturation": float(rng.uniform(5, 50)),
            "speed_um_per_min": float(rng.uniform(0.5, 2)), "chemotaxis": float(rng.uniform(0.01, 0.5)),
            "kill_attempt_rate_per_day": float(rng.uniform(50, 150)), "kills_per_tcell": int(rng.integers(2, 8)),
            "expansion_prob_per_kill": float(rng.uniform(0.2, 0.6)),
            "exhaustion_prob_per_pdl1_contact": float(rng.uniform(0.2, 0.8)),
            "exhaustion_threshold": int(rng.integers(1, 5)),
            "lifespan_days": float(rng.uniform(1, 5)), "initial_tcells": int(rng.integers(20, 60)),
            # its own stream: the draws above stay those of the configs before the rule
            "reinvigoration_rate_per_day": float(np.random.default_rng([seed, 21]).uniform(1, 10)),
        },
        therapy=[
            {"kind": "checkpoint_blockade", "start_day": days * 0.2, "end_day": days * 0.6,
             "level": float(rng.uniform(0.3, 1))},
            {"kind": "adoptive_transfer", "day": days * 0.3, "cells": int(rng.integers(20, 80)),
             "where": str(rng.choice(["tumour", "anywhere"]))},
            {"kind": "vaccine", "start_day": days * 0.1, "end_day": days * 0.5,
             "recruitment_multiplier": float(rng.uniform(1.5, 4))},
            {"kind": "chemotherapy", "day": days * 0.7, "tumour_kill_prob": float(rng.uniform(0.1, 0.4)),
             "tcell_kill_prob": float(rng.uniform(0.05, 0.3))},
        ],
    )


def random_microenvironment_config(seed: int, dim: int, neighbourhood: str, boundary: str, steps: int = 120):
    """:func:`random_full_config` with every microenvironment component on
    (IFN-gamma and adaptive PD-L1, CD8 arrest on engagement, regulatory T
    cells, oxygen and hypoxia, the CCL2 field and myeloid suppressors) and anti-CTLA-4 and CSF1R
    inhibition in the schedule, at rates that exercise each rule."""
    cfg = random_full_config(seed, dim, neighbourhood, boundary, steps)
    rng = np.random.default_rng([seed, 17])
    data = cfg.model_dump(mode="json")
    data["ifng"] = {"enabled": True, **_drawn(rng, secretion_per_engagement=_uniform(0.5, 3.0),
                                              decay_per_min=_uniform(0.005, 0.05),
                                              induction_threshold=_uniform(0.01, 0.1),
                                              loss_rate_per_day=_uniform(1.0, 10.0))}
    data["tumour"]["initial_recognition"] = float(rng.uniform(0.3, 0.7))
    data["immune"]["engagement_arrest_minutes"] = float(rng.uniform(15, 120))  # T cells stay where they engage
    treg = np.random.default_rng([seed, 18])
    data["tregs"] = {"enabled": True, **_drawn(  # entry, movement, life, effect
        treg, recruitment_rate_per_day=_uniform(20, 60), recruitment_half_saturation=_uniform(5, 50),
        speed_um_per_min=_uniform(0.5, 3), chemotaxis=_uniform(0, 0.5),
        lifespan_days=_uniform(0.5, 3), suppression=_uniform(0.3, 0.9), depletion_rate_per_day=_uniform(2, 10))}
    ox = np.random.default_rng([seed, 19])
    data["oxygen"] = {"enabled": True, **_drawn(  # the field, then the thresholds and their effects
        ox, diffusion_um2_per_min=_uniform(20, 200), uptake_per_cell_per_min=_uniform(0.5, 3.0), boundary_supply=_flag,
        hypoxia_mmHg=_uniform(34, 37), anoxia_mmHg=_uniform(30, 34), necrosis_rate_per_day=_uniform(2, 20),
        hypoxic_kill_suppression=_uniform(0.2, 0.8))}
    data["immune"]["vessel_density"] = float(ox.uniform(0.005, 0.015))  # vessel-poor: hypoxic pockets
    my = np.random.default_rng([seed, 20])
    data["ccl2"] = {"enabled": True, "diffusion_um2_per_min": float(my.uniform(50, 300)),
                    "decay_per_min": float(my.uniform(0.005, 0.05)),
                    "secretion_per_cell_per_min": float(my.uniform(5, 20))}
    data["myeloid"] = {"enabled": True, "recruitment_rate_per_day": float(my.uniform(20, 60)),
                       "recruitment_half_saturation": float(my.uniform(5, 50)),
                       "speed_um_per_min": float(my.uniform(0.5, 3)), "chemotaxis": float(my.uniform(0, 0.5)),
                       "lifespan_days": float(my.uniform(0.5, 3)), "suppression": float(my.uniform(0.3, 0.9))}
    days = steps * cfg.simulation.dt_days
    data["therapy"].append({"kind": "ctla4_blockade", "start_day": days * 0.4, "end_day": days * 0.8,
                            "level": float(treg.uniform(0.5, 1)), "priming_multiplier": float(treg.uniform(1, 3))})
    data["myeloid"]["depletion_rate_per_day"] = float(my.uniform(2, 10))
    data["therapy"].append({"kind": "csf1r_blockade", "start_day": days * 0.3, "end_day": days * 0.9,
                            "level": float(my.uniform(0.5, 1))})
    return Config.model_validate(data)


def microenvironment_against_reference(seed_base: int, dim: int, neighbourhood: str, boundary: str, other: str):
    """:func:`run_against_reference` on the :func:`random_microenvironment_config`
    of one of CASES (seed ``seed_base`` + the case's index): (state, observables)."""
    cfg = random_microenvironment_config(seed_base + CASES.index((dim, neighbourhood, boundary)), dim,
                                         neighbourhood, boundary)
    return run_against_reference(cfg, other)


def assert_batch_equals_alone(tmp_path, cfgs: list) -> None:
    """``cfgs`` batched on cpu write the run files of each alone on numpy."""
    import gpusim

    require_backend("cpu")
    for i, c in enumerate(cfgs):
        gpusim.run_to_file(c, tmp_path / f"alone{i}.h5", backend="numpy")
    gpusim.run_batch(cfgs, [tmp_path / f"batch{i}.h5" for i in range(len(cfgs))], backend="cpu", batch=len(cfgs))
    for i in range(len(cfgs)):
        assert_same_run(tmp_path / f"batch{i}.h5", tmp_path / f"alone{i}.h5")


def assert_resume_equals_one_go(tmp_path, short: Config, long: Config, backend: str) -> None:
    """``short`` run to its end, then resumed to ``long``'s steps, writes the
    run file of ``long`` made in one go."""
    from gpusim.simulation import resume_run, run_to_file

    run_to_file(short, tmp_path / "ext.h5", backend=backend)
    run_to_file(long, tmp_path / "ref.h5", backend=backend)
    resume_run(tmp_path / "ext.h5", steps=long.simulation.steps - short.simulation.steps, backend=backend)
    assert_same_run(tmp_path / "ext.h5", tmp_path / "ref.h5")


def rich_state():
    """A state with more per-site layers, a coarse float32 field, and extras
    of every kind a checkpoint must carry (scalars, strings, lists, None, nested dicts)."""
    cfg = make_config(lattice={"shape": [12, 10]})
    st = initial_state(cfg)
    rng = np.random.default_rng(3)
    st.sites["tcell"] = rng.integers(0, 2, cfg.lattice.n_sites).astype(np.uint8)
    st.sites["vessel"] = (rng.random(cfg.lattice.n_sites) < 0.1).astype(np.uint8)
    st.extra.update(chemokine=rng.random((3, 3), dtype=np.float32), dose=0.25, pending=3, active=True,
                    label="arm A", window=(1.5, 4.0), ids=[1, 2, 3], nothing=None,
                    therapy={"blockade": np.float64(0.5), "next_pulse_step": np.int64(144)})
    return st


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


def datasets(path) -> dict[str, np.ndarray]:
    """Every dataset of a run file's /observables, /fields and /clones, by path."""
    out = {}
    with h5py.File(path) as f:
        for group in ("observables", "fields", "clones"):
            f[group].visititems(lambda name, obj: out.__setitem__(f"{group}/{name}", obj[()])
                                if isinstance(obj, h5py.Dataset) else None)
    return out


def assert_same_run(got, ref, ignore_parameters=("backend",)) -> None:
    """Every observable, field and clone dataset byte-identical; the same
    parameters (but the backend); the same final state in /checkpoint."""
    a, b = datasets(ref), datasets(got)
    assert sorted(a) == sorted(b)
    for name in a:
        assert a[name].dtype == b[name].dtype, name
        assert a[name].tobytes() == b[name].tobytes(), name
    with h5py.File(ref) as fr, h5py.File(got) as fg:
        assert fg.attrs["status"] == "complete" and fg.attrs["steps"] == fr.attrs["steps"]
        pr, pg = dict(fr["parameters"].attrs), dict(fg["parameters"].attrs)
        for k in ignore_parameters:
            pr.pop(k), pg.pop(k)
        assert pr.keys() == pg.keys() and all(np.array_equal(pr[k], pg[k]) for k in pr)
        assert_states_identical(read_checkpoint(fg).state, read_checkpoint(fr).state)
    assert xdmf_path(got).exists() == xdmf_path(ref).exists()  # none without frames
    if xdmf_path(ref).exists():
        assert xdmf_path(got).read_text().replace(got.name, "X") == xdmf_path(ref).read_text().replace(ref.name, "X")


# ------------------------------------------------------------ the command line
def cli_env(**extra) -> dict[str, str]:
    """The test process's environment, one OpenMP thread (tiny lattices run
    far faster on one thread than on two busy cores, and thread-count
    independence has tests of its own), no MPI launcher variables."""
    e = {k: v for k, v in os.environ.items() if not k.startswith(("PMI_", "PMIX_", "OMPI_", "MPI_LOCAL", "HYDI"))}
    e.update(OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1", **extra)
    return e


def gpusim_popen(*args, **kw) -> subprocess.Popen:
    """``python -m gpusim ARGS`` started in a subprocess (environment :func:`cli_env`
    unless ``env=`` is given); stdout and stderr are pipes."""
    return subprocess.Popen([sys.executable, "-m", "gpusim", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=kw.pop("env", cli_env()), **kw)


def gpusim(*args, timeout: float = 300, **kw) -> subprocess.CompletedProcess:
    """``python -m gpusim ARGS`` run to the end in a subprocess (see :func:`gpusim_popen`)."""
    return subprocess.run([sys.executable, "-m", "gpusim", *map(str, args)], capture_output=True, text=True,
                          env=kw.pop("env", cli_env()), timeout=timeout, **kw)


def cli(capsys, *args) -> subprocess.CompletedProcess:
    """``gpusim ARGS`` in this process (no interpreter start-up, no import of
    numpy & co. again): a CompletedProcess like :func:`gpusim`'s."""
    from gpusim.cli.main import main

    capsys.readouterr()
    rc = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(args, rc, out, err)


def assert_one_line_error(proc, *fragments, code: int = 2) -> None:
    """Bad input (or ``code``): that exit code and one line on stderr holding every fragment, no traceback."""
    assert proc.returncode == code, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for frag in fragments:
        assert frag in lines[0], lines[0]


def run_cpu_in_subprocess(cfg: Config, threads: int) -> dict:
    """Run ``cfg`` on the cpu backend in a fresh process with
    OMP_NUM_THREADS=threads; return every state array as bytes (hex)."""
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
SMALL_QUICKSTART = ["--set", "lattice.shape=[60,60]", "--steps", "300", "--seed", "2"]  # seed 2: T cells kill within 300 steps
THERAPY = ('therapy=[{kind = "checkpoint_blockade", start_day = 0.5, end_day = 1.5, level = 0.8}, '
           '{kind = "chemotherapy", day = 1.0, tumour_kill_prob = 0.3}, '
           '{kind = "vaccine", start_day = 1.2, end_day = 2.0, recruitment_multiplier = 2.0}]')


def write_unfinished_run(path, cfg: Config, steps: int) -> None:
    """``steps`` steps of ``cfg`` on numpy streamed into the run file
    ``path`` that is then left as a crash (SIGKILL) leaves it: never closed."""
    from gpusim import Simulation
    from gpusim.io.runfile import RunWriter

    sim = Simulation(cfg, backend="numpy")
    w = RunWriter(path, cfg, backend="numpy")
    w.start(sim.last_observables, sim.live_state)
    for _ in range(steps):
        w.on_step(sim.step_count + 1, sim.step(), sim.live_state)
    w.f.close()


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


@pytest.fixture(scope="session")
def slow_sweep(tmp_path_factory):
    """(spec, output folder) of the uninterrupted 12-run sweep that the
    signal and killed-rank tests stop part-way and compare their reruns
    with (tests/sweep_util.py SLOW_GRID, SLOW_BASE): made once per test
    process."""
    from sweep_util import SLOW_BASE, SLOW_GRID, write_sweep

    d = tmp_path_factory.mktemp("uninterrupted")
    spec = write_sweep(d, SLOW_GRID, SLOW_BASE)
    proc = gpusim("sweep", spec, "-o", d / "out", "--backend", "cpu", "-q", timeout=600)
    assert proc.returncode == 0, proc.stderr
    return spec, d / "out"


@pytest.fixture(scope="session")
def installed(tmp_path_factory):
    """``pip install .`` of this checkout's wheel into a fresh venv: its
    ``bin/`` folder.  Lean: the wheel alone is installed (--no-deps); the
    dependencies come from the test environment's site-packages through a
    .pth line (its editable gpusim is not on that path: .pth files there are
    not read)."""
    pytest.importorskip("hatchling", reason="hatchling not installed (pip install '.[test]')")
    import site
    import sysconfig

    d = tmp_path_factory.mktemp("installed")
    root = Path(__file__).parents[1]
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(d),
                    str(root)], check=True)
    (wheel,) = d.glob("gpusim-*.whl")
    venv = d / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    py = venv / "bin" / "python"
    purelib = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    deps = [p for p in {sysconfig.get_paths()["purelib"], *site.getsitepackages()} if Path(p).is_dir()]
    Path(purelib, "test_deps.pth").write_text("\n".join(deps) + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", "-q", str(wheel)],
                   check=True)
    return venv / "bin"


def assert_nothing_over_the_data(fig) -> None:
    """What a reader must see in a figure is not hidden: no legend over a
    bar (the visible part, inside its axes) and every error whisker inside
    its axes' limits."""
    from matplotlib.container import ErrorbarContainer
    from matplotlib.transforms import Bbox

    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    legends = [leg.get_window_extent(renderer) for leg in
               [*fig.legends, *(ax.get_legend() for ax in fig.axes)] if leg is not None]
    for ax in fig.axes:
        for bar in ax.patches:
            box = Bbox.intersection(bar.get_window_extent(renderer), ax.bbox)
            if box is None or box.width < 1 or box.height < 1:
                continue
            for legend in legends:
                assert not legend.overlaps(box), f"{ax.get_title()!r}: a legend covers a bar at {box}"
        for container in ax.containers:
            if isinstance(container, ErrorbarContainer):
                (lo, hi), (ylo, yhi) = ax.get_xlim(), ax.get_ylim()
                for lines in container.lines[2]:
                    ends = np.concatenate([np.reshape(seg, (-1, 2)) for seg in lines.get_segments()])
                    ends = ends[np.isfinite(ends).all(axis=1)]  # a NaN index draws no whisker
                    assert (ends[:, 0] >= min(lo, hi)).all() and (ends[:, 0] <= max(lo, hi)).all(), \
                        f"{ax.get_title()!r}: a whisker runs off the x axis ({ends[:, 0].min()}, {ends[:, 0].max()})"
                    assert (ends[:, 1] >= min(ylo, yhi)).all() and (ends[:, 1] <= max(ylo, yhi)).all()
