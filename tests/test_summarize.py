"""gpusim summarize: one screen about a run, whatever state it is in."""

from __future__ import annotations

import os
import signal

import h5py
from conftest import QUICKSTART

from gpusim.cli.main import main
from gpusim.reference.backend import ReferenceBatch


def summary(path, capsys) -> list[str]:
    capsys.readouterr()
    assert main(["summarize", str(path)]) == 0
    return capsys.readouterr().out.splitlines()


def test_summarize_complete_run(quickstart_run, capsys):
    lines = summary(quickstart_run, capsys)
    assert len(lines) <= 24  # one screen
    text = " ".join(line.strip() for line in lines)
    assert lines[0] == "quickstart.h5  complete"
    with h5py.File(quickstart_run) as f:
        cells = int(f["observables/tumour_cells/value"][-1])
        live = int(f["observables/live_clones/value"][-1])
        founded = len(f["clones/id"]) - 1
        outcome = f.attrs.get("outcome", "-")
        runtime = f.attrs["runtime_s"]
    for fragment in ("60 x 60 (2D, moore, closed), dx 10 um", "300 of 300 (dt 10 min, 2.08 days), seed 2",
                     f"outcome {outcome}", "response -", f"tumour_cells {cells},", f"live_clones {live}",
                     f"{founded} founded, {live} alive", "tumour_clone (4 frames)", "on numpy",
                     f"{runtime:.1f} s"):
        assert fragment in " ".join(text.split()), fragment


def test_summarize_prints_run_totals_apart_from_the_final_state(quickstart_run, capsys):
    from gpusim.observables import EVENTS

    lines = [x.strip() for x in summary(quickstart_run, capsys)]
    first, start = (next(i for i, x in enumerate(lines) if x.startswith(w)) for w in ("final", "totals"))
    final = " ".join(lines[first:start])
    totals = " ".join(lines[start:start + 3]).removeprefix("totals").strip()
    with h5py.File(quickstart_run) as f:
        sums = {k: int(f[f"observables/{k}/value"][()].sum()) for k in EVENTS if f"observables/{k}" in f}
    assert totals.startswith(", ".join(f"{k} {v}" for k, v in sums.items()) + " (over 300 steps)"), totals
    assert sums["kills"] > 0 and sums["divisions"] > 0 and sums["recruited"] > 0
    assert "kills" not in final and "tumour_cells" in final  # state at the end, not the last step's events


def test_summarize_prints_outcome_and_response_when_present(quickstart_run, tmp_path, capsys):
    path = tmp_path / "run.h5"
    path.write_bytes(quickstart_run.read_bytes())
    with h5py.File(path, "r+") as f:
        f.attrs["outcome"] = "escape"
        f.attrs["response"] = "PD"
    text = "\n".join(summary(path, capsys))
    assert "outcome    escape" in text and "response   PD" in text


def test_interrupted_run_exits_138_and_summarizes(tmp_path, monkeypatch, capsys):
    """SIGUSR1 in the middle of a step: the step finishes, a checkpoint is
    written, status interrupted, exit code 128 + 10."""
    real_step = ReferenceBatch.step

    def step(self):
        if self.steps[0] == 50:
            os.kill(os.getpid(), signal.SIGUSR1)
        return real_step(self)

    monkeypatch.setattr(ReferenceBatch, "step", step)
    out = tmp_path / "run.h5"
    rc = main(["run", str(QUICKSTART), "-o", str(out), "--backend", "numpy", "-q", "--set", "lattice.shape=[40,40]",
               "--steps", "200"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 138 and len(err) == 1
    assert err[0] == (f"gpusim: {out}: interrupted by SIGUSR1 at step 51 of 200; checkpoint written; "
                      f"continue with: gpusim resume {out}")
    assert signal.getsignal(signal.SIGUSR1) is signal.SIG_DFL  # handlers restored
    text = "\n".join(summary(out, capsys))
    assert "run.h5  interrupted by SIGUSR1" in text and "51 of 200" in text
    monkeypatch.undo()
    assert main(["resume", str(out), "--backend", "numpy", "-q"]) == 0
    assert "run.h5  complete" in summary(out, capsys)[0]


def test_summarize_a_killed_run(tmp_path, capsys):
    from conftest import make_config, write_unfinished_run

    cfg = make_config(lattice={"shape": [20, 20]}, output={"frame_every_steps": 5, "checkpoint_every_steps": 10})
    write_unfinished_run(tmp_path / "run.h5", cfg, 17)  # no close(): as SIGKILL leaves it
    text = "\n".join(summary(tmp_path / "run.h5", capsys))
    assert "run.h5  running" in text and "15 of 1000" in text and "(checkpoint at step 10)" in text
    assert "runtime    -" in text
