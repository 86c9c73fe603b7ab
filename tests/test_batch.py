"""Cohorts (gpusim.batch): a run's file from a batch is byte-identical to the
same run made alone, on every backend, whatever the batch size and however
the runs of a batch differ (parameters, seeds, therapy arms, step counts)."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
from conftest import QUICKSTART, assert_same_run, require_backend, run_state

import gpusim
from gpusim.batch import auto_batch, batch_key, group_by_shape
from gpusim.config import load_config
from gpusim.errors import InputError

ARMS = {
    "control": "therapy=[]",
    "blockade": 'therapy=[{kind = "checkpoint_blockade", start_day = 0.2, end_day = 0.8, level = 0.9}]',
    "transfer": ('therapy=[{kind = "adoptive_transfer", day = 0.1, cells = 30, where = "tumour"}, '
                 '{kind = "adoptive_transfer", day = 0.1, cells = 10, where = "anywhere"}, '
                 '{kind = "adoptive_transfer", day = 0.4, cells = 20}]'),
    "chemo+vaccine": ('therapy=[{kind = "chemotherapy", day = 0.3, tumour_kill_prob = 0.3, tcell_kill_prob = 0.1}, '
                      '{kind = "vaccine", start_day = 0.1, end_day = 0.6, recruitment_multiplier = 3.0}]'),
}


def cohort_configs():
    """8 runs of one array shape: different seeds, step counts, rates,
    diffusion (substep counts), T-cell speeds (move counts), exhaustion
    thresholds, re-invigoration, output cadences and therapy arms."""
    base = ["lattice.shape=[30,30]", "tumour.initial_radius_cells=3.0", "tumour.mutations_per_division=0.4",
            "tumour.pdl1_prob_per_division=0.05", "tumour.hla_loss_prob_per_division=0.02",
            "immune.initial_tcells=20", "immune.recruitment_rate_per_day=20.0", "output.frame_every_steps=20"]
    varied = [
        [],
        ["tumour.death_rate_per_day=0.3", "output.checkpoint_every_steps=25"],
        ["chemokine.diffusion_um2_per_min=300.0", "immune.speed_um_per_min=4.0"],
        ["immune.exhaustion_threshold=1", "output.frame_every_steps=7"],
        ["immune.speed_um_per_min=0.5", "tumour.division_rate_per_day=3.0"],
        ["chemokine.diffusion_um2_per_min=1500.0", "output.frame_every_steps=0",
         "tumour.initial_pdl1=true", "immune.reinvigoration_rate_per_day=50.0"],
        ["immune.kills_per_tcell=2", "tumour.initial_pdl1=true"],
        ["tumour.initial_recognition=0.6"],
    ]
    arms = list(ARMS.values())
    steps = [60, 45, 70, 33, 60, 52, 41, 66]
    return [load_config(QUICKSTART, [*base, *v, arms[i % len(arms)], f"simulation.seed={100 + i}",
                                      f"simulation.steps={steps[i]}"]) for i, v in enumerate(varied)]


@pytest.fixture(scope="module")
def alone(tmp_path_factory):
    """Each run made alone (``gpusim run``'s path) on numpy: the oracle."""
    d = tmp_path_factory.mktemp("alone")
    paths = []
    for i, cfg in enumerate(cohort_configs()):
        paths.append(d / f"run{i}.h5")
        gpusim.run_to_file(cfg, paths[-1], backend="numpy")
    return paths


def assert_same_file(alone, batched) -> None:
    """Every dataset, the parameters, the final checkpoint and the XDMF file
    as the run alone, and the same end-of-run attributes (wall time aside)."""
    assert_same_run(batched, alone)
    with h5py.File(alone) as fa, h5py.File(batched) as fb:
        skip = {"runtime_s"}
        assert {k: str(v) for k, v in fa.attrs.items() if k not in skip} == \
               {k: str(v) for k, v in fb.attrs.items() if k not in skip}


def test_the_cohort_is_varied(alone):
    cfgs = cohort_configs()
    assert len({batch_key(c) for c in cfgs}) == 1
    transferred, final = [], []
    for p in alone:
        with h5py.File(p) as f:
            transferred.append(int(f["observables/transferred/value"][()].sum()))
            final.append((int(f["observables/tumour_cells/value"][-1]), int(f["observables/kills/value"][()].sum())))
    # Only the transfer arm (runs 2 and 6: three transfers, two of them in one
    # step) injects T cells; run 6 ends (41 steps) before the day-0.4 transfer.
    assert [i for i, n in enumerate(transferred) if n] == [2, 6]
    assert transferred[2] == 60
    assert len(set(final)) >= 6 and any(k for _, k in final), final  # the runs end apart; T cells kill
    from gpusim.params import model_params

    assert len({model_params(c).chem_substeps for c in cfgs}) >= 3
    assert len({model_params(c).n_moves for c in cfgs}) >= 3
    # Run 5 re-invigorates T cells under its blockade: without the rule its T-cell layer ends otherwise.
    from gpusim.config import apply_overrides
    from gpusim.io.checkpoint import read_checkpoint

    with h5py.File(alone[5]) as f:
        with_rule = read_checkpoint(f).state.sites["tcell"]
    without = run_state(apply_overrides(cfgs[5], ["immune.reinvigoration_rate_per_day=0"]), "cpu")[0].sites["tcell"]
    assert not np.array_equal(with_rule, without)


# numpy batches step the reference run by run: sizes 1 and 8 cover its batch path.
@pytest.mark.parametrize("backend,size", [("numpy", 1), ("numpy", 8), ("cpu", 1), ("cpu", 3), ("cpu", 8),
                                          *(pytest.param("cuda", n, marks=pytest.mark.gpu) for n in (1, 3, 8))])
def test_batched_runs_are_byte_identical_to_runs_alone(alone, tmp_path, backend, size):
    require_backend(backend)
    cfgs = cohort_configs()
    outs = [tmp_path / f"run{i}.h5" for i in range(len(cfgs))]
    final = gpusim.run_batch(cfgs, outs, backend=backend, batch=size)
    for i, (a, b) in enumerate(zip(alone, outs)):
        assert_same_file(a, b)
        with h5py.File(b) as f:
            assert f.attrs["status"] == "complete" and f.attrs["steps"] == cfgs[i].simulation.steps
            assert f["observables/tumour_cells/value"][-1] == final[i]["tumour_cells"]


def test_runs_leave_the_batch_when_done_and_files_close_complete(tmp_path):
    """The shortest run is closed (complete, final) while the others still run."""
    from gpusim.batch import Cohort, Member
    from gpusim.io.runfile import RunWriter
    from gpusim.state import initial_state

    cfgs = cohort_configs()[:3]
    closed = []
    members = [Member(c, initial_state(c), None) for c in cfgs]
    cohort = Cohort(members, "cpu")
    for i, m in enumerate(members):
        m.writer = RunWriter(tmp_path / f"r{i}.h5", cfgs[i], backend="cpu")

        def on_close(status, i=i):
            with h5py.File(tmp_path / f"r{i}.h5") as f:
                closed.append((i, status, str(f.attrs["status"]), int(cohort.backend.steps.max())))
        m.on_close = on_close
    cohort.run()
    order = sorted(range(3), key=lambda i: cfgs[i].simulation.steps)
    assert [c[0] for c in closed] == order
    for i, status, on_disk, furthest in closed:
        assert status == on_disk == "complete"
        assert furthest == cfgs[i].simulation.steps  # nobody had run past it: it left when done
    for i in range(3):
        with h5py.File(tmp_path / f"r{i}.h5") as f:
            assert f["observables/tumour_cells/step"][-1] == cfgs[i].simulation.steps


def test_grouping_and_auto_size():
    cfgs = cohort_configs()
    other = load_config(QUICKSTART, ["lattice.shape=[20,20]"])
    assert group_by_shape([cfgs[0], other, cfgs[1], cfgs[2]], 2) == [[0, 2], [3], [1]]
    assert auto_batch(cfgs[0], "numpy", 100) == 1
    assert auto_batch(cfgs[0], "cpu", 5) == 5  # never more than the runs at hand


def test_a_bad_batch_is_refused(tmp_path):
    cfgs = cohort_configs()
    with pytest.raises(InputError, match="2 configs but 1 outputs"):
        gpusim.run_batch(cfgs[:2], [tmp_path / "a.h5"], backend="cpu")
    from gpusim.engine.backend import KernelBackend
    from gpusim.engine.device import CpuDevice
    from gpusim.state import initial_state

    other = load_config(QUICKSTART, ["lattice.shape=[20,20]"])
    with pytest.raises(ValueError, match="differs from run 0 in shape"):
        KernelBackend(CpuDevice(), [cfgs[0], other], [initial_state(cfgs[0]), initial_state(other)])


def test_bench_cohort_times_batched_and_alone(capsys):
    from conftest import cli

    proc = cli(capsys, "bench", "--cohort", 4, "--backend", "cpu", "--steps", 6, "--batch", 2, "--alone", 2, "--json")
    assert proc.returncode == 0, proc.stderr
    import json

    (rec,) = json.loads(proc.stdout)
    assert (rec["cohort"], rec["steps"], rec["batch"], rec["alone_runs"], rec["shape"]) == (4, 6, 2, 2, [100, 100])
    assert rec["batched_runs_per_hour"] > 0 and rec["alone_runs_per_hour"] > 0
    assert rec["speedup"] == pytest.approx(rec["batched_runs_per_hour"] / rec["alone_runs_per_hour"])
    assert "runs/hour" in proc.stderr
    bad = cli(capsys, "bench", "--cohort", 0)
    assert bad.returncode == 2 and "--cohort must be >= 1" in bad.stderr


def test_transfers_of_different_sizes_on_one_step_match_runs_alone(tmp_path):
    """Three runs, one step, transfers of 10, 100 and 40 cells: the buffer of
    chosen sites grows for the 100 (past its 16 columns) after every run's
    sites are chosen, so no run's upload is lost to the regrowth; the runs also
    differ in substeps (diffusion), moves (speed) and new clones (mutations)."""
    require_backend("cpu")
    varied = [["chemokine.diffusion_um2_per_min=300.0", "immune.speed_um_per_min=4.0"],
              ["tumour.mutations_per_division=1.0"],
              ["chemokine.diffusion_um2_per_min=1500.0", "immune.speed_um_per_min=0.5"]]
    cfgs = [load_config(QUICKSTART, ["lattice.shape=[30,30]", "simulation.steps=20", "immune.initial_tcells=3",
                                     "output.frame_every_steps=10", f"simulation.seed={7 + i}", *v,
                                     f'therapy=[{{kind = "adoptive_transfer", day = 0.05, cells = {n}, where = "anywhere"}}]'])
            for i, (n, v) in enumerate(zip((10, 100, 40), varied))]
    from gpusim.params import model_params

    assert len({model_params(c).chem_substeps for c in cfgs}) == 3
    assert len({model_params(c).n_moves for c in cfgs}) == 3
    alone = [tmp_path / f"alone{i}.h5" for i in range(3)]
    for c, p in zip(cfgs, alone):
        gpusim.run_to_file(c, p, backend="cpu")
    outs = [tmp_path / f"batched{i}.h5" for i in range(3)]
    gpusim.run_batch(cfgs, outs, backend="cpu", batch=3)
    for i, (a, b) in enumerate(zip(alone, outs)):
        with h5py.File(a) as f:
            assert f["observables/transferred/value"][()].sum() == (10, 100, 40)[i]
        assert_same_file(a, b)


def test_batch_sizes_stay_within_the_launch_grid(monkeypatch):
    """A batch is the grid's y dimension (at most 65,535 on CUDA): neither
    --batch nor the automatic size may pass it."""
    import gpusim.batch as batch
    from gpusim.batch import GRID_Y_MAX, parse_batch

    assert parse_batch(str(GRID_Y_MAX)) == GRID_Y_MAX
    with pytest.raises(InputError, match="at most 65535 runs"):
        parse_batch(str(GRID_Y_MAX + 1))
    monkeypatch.setenv("GPUSIM_BATCH_MAX", "1000000")
    monkeypatch.setattr(batch, "free_memory", lambda backend: 1 << 60)
    cfg = load_config(QUICKSTART, ["lattice.shape=[8,8]"])
    assert auto_batch(cfg, "cpu", 10**6) == GRID_Y_MAX


def test_a_batch_is_released_before_the_next_is_allocated(tmp_path, monkeypatch):
    """run_batch drops a finished batch's arrays before it builds the next
    (on a GPU the next is sized from the memory the previous one freed)."""
    import gc
    import weakref

    import gpusim.batch as batch

    made = []

    class Watched(batch.Cohort):
        def __init__(self, *args, **kw):
            gc.collect()
            made.append([ref() is None for ref in made_refs])
            super().__init__(*args, **kw)
            made_refs.append(weakref.ref(self.backend))

    made_refs: list = []
    monkeypatch.setattr(batch, "Cohort", Watched)
    cfgs = [load_config(QUICKSTART, ["lattice.shape=[20,20]", "simulation.steps=3", f"simulation.seed={s}"])
            for s in range(3)]
    gpusim.run_batch(cfgs, [tmp_path / f"r{s}.h5" for s in range(3)], backend="cpu", batch=1)
    assert made == [[], [True], [True, True]]
