"""gpusim analyse: per-frame spatial statistics of a real run file, stored
under /analysis without touching anything else, read back by open_run."""

from __future__ import annotations

import shutil

import h5py
import numpy as np
import pytest
from conftest import assert_nothing_over_the_data, datasets

import gpusim
from gpusim.analysis import spatial
from gpusim.cli.main import main


def _everything_but_analysis(path) -> dict:
    out = {}
    with h5py.File(path) as f:
        def visit(name, obj):
            if name.split("/")[0] != "analysis":
                out[name] = (obj[()].tobytes() if isinstance(obj, h5py.Dataset) else None,
                             {k: str(v) for k, v in obj.attrs.items()})
        f.visititems(visit)
        out["/"] = {k: str(v) for k, v in f.attrs.items()}
    return out


def test_analyse_a_real_run(quickstart_run, tmp_path, capsys):
    path = shutil.copy(quickstart_run, tmp_path / "run.h5")
    before = _everything_but_analysis(path)
    assert main(["analyse", str(path)]) == 0
    out = capsys.readouterr().out
    assert "frames analysed into /analysis; end-state phenotype" in out
    assert _everything_but_analysis(path) == before  # nothing else changed, byte for byte
    with gpusim.open_run(path) as run:
        table = run.analysis
        obs = run.observables.set_index("step")
        frames = run.frames("tumour_clone")
        assert table["step"].tolist() == frames.steps.tolist() == [0, 144, 288, 300]
        assert list(table.columns) == ["step", *spatial.columns(2)]
        np.testing.assert_array_equal(table["tumour_cells"], obs.loc[frames.steps, "tumour_cells"])
        np.testing.assert_array_equal(table["tcells"], obs.loc[frames.steps, "tcells"])
        # The three regions hold every T cell, and the stored table is what a fresh computation gives.
        np.testing.assert_array_equal(table[["tcells_core", "tcells_margin", "tcells_outside"]].sum(axis=1),
                                      table["tcells"])
        fresh = spatial.frame_statistics(frames[-1], run.frames("tcells")[-1], 10.0, run.config.analysis)
        for k, v in fresh.items():
            assert table[k].iloc[-1] == (v if isinstance(v, str) else pytest.approx(v, nan_ok=True)), k
        assert set(table["phenotype"]) <= {*spatial.PHENOTYPES, spatial.NOT_EVALUABLE}
        assert run.file["analysis"].attrs["phenotype"] == table["phenotype"].iloc[-1]
        assert run.file["analysis/tcell_density_core_per_mm2"].attrs["unit"] == "1/mm^2"
    with h5py.File(path) as f:
        assert "margin_width_um = 60.0" in f["analysis"].attrs["settings"]


def test_open_run_computes_the_analysis_when_none_is_stored(quickstart_run):
    with gpusim.open_run(quickstart_run) as run:
        assert "analysis" not in run.file
        table = run.analysis
        assert len(table) == 4 and table.index.name == "time"


def test_settings_override_and_resume_drops_the_stale_table(quickstart_run, tmp_path):
    path = shutil.copy(quickstart_run, tmp_path / "run.h5")
    assert main(["analyse", str(path), "-q", "--set", "analysis.margin_width_um=200"]) == 0
    with gpusim.open_run(path) as run:
        wide = run.analysis
    assert main(["analyse", str(path), "-q"]) == 0
    with gpusim.open_run(path) as run:
        narrow = run.analysis
    last = len(wide) - 1
    assert wide["tcells_margin"].iloc[last] >= narrow["tcells_margin"].iloc[last]
    raw = datasets(path)
    assert main(["resume", str(path), "--steps", "10", "-q", "--backend", "numpy"]) == 0
    with h5py.File(path) as f:
        assert "analysis" not in f  # it described the frames before the resume
    assert datasets(path).keys() == raw.keys()


@pytest.mark.parametrize("args,message", [
    (["analyse", "missing.h5"], "missing.h5: no such file"),
    (["analyse", "RUN", "--set", "tumour.death_rate_per_day=1"], "takes only analysis.* settings"),
    (["analyse", "RUN", "--set", "analysis.margin_width_um=0"], "analysis.margin_width_um"),
    (["analyse", "RUN", "--set", "analysis.typo=1"], "analysis.typo: unknown key"),
])
def test_bad_input_is_one_line_and_exit_2(args, message, quickstart_run, tmp_path, capsys):
    path = shutil.copy(quickstart_run, tmp_path / "run.h5")
    args = [str(path) if a == "RUN" else str(tmp_path / a) if a == "missing.h5" else a for a in args]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
    with h5py.File(path) as f:
        assert "analysis" not in f


def test_a_run_without_frames_is_refused(tmp_path, capsys):
    from conftest import make_run_file

    path = make_run_file(tmp_path / "noframes.h5", "--set", "output.frame_every_steps=0", "--steps", "5")
    assert main(["analyse", str(path)]) == 2
    assert "has no lattice frames" in capsys.readouterr().err


def test_run_with_analyse_stores_the_table(tmp_path, capsys):
    from conftest import make_run_file

    path = make_run_file(tmp_path / "run.h5", "--analyse", "--steps", "20")
    assert "/analysis written; end-state phenotype" in capsys.readouterr().out
    with h5py.File(path) as f:
        assert f["analysis/step"][()].tolist() == f["fields/tumour_clone/step"][()].tolist() == [0, 20]


def test_analyse_plot(quickstart_run, tmp_path, capsys):
    path = shutil.copy(quickstart_run, tmp_path / "run.h5")
    png = tmp_path / "spatial.png"
    assert main(["analyse", str(path), "-q", "--plot", str(png), "--frame", "2"]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    from gpusim.plots.spatial import spatial_figure

    with gpusim.open_run(path) as run:
        fig = spatial_figure(run, frame=2)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[0].startswith("Regions, day 2.0") and "phenotype per frame" in titles[1]
    assert fig.axes[1].get_xlim() == fig.axes[2].get_xlim()  # the time panels end on the same day
    assert_nothing_over_the_data(fig)
    fresh = shutil.copy(quickstart_run, tmp_path / "fresh.h5")
    assert main(["analyse", str(fresh), "--plot", str(png), "--frame", "7"]) == 2
    assert "--frame 7: " in capsys.readouterr().err
    with h5py.File(fresh) as f:
        assert "analysis" not in f  # refused before anything was written


def test_summarize_prints_the_end_state_phenotype(quickstart_run, capsys):
    assert main(["summarize", str(quickstart_run)]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.strip().startswith("phenotype"))
    with gpusim.open_run(quickstart_run) as run:
        last = run.analysis.iloc[-1]
    assert line.split()[1] == last["phenotype"] and "at the last frame (T cells per mm^2: core" in line
