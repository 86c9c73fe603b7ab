"""Outputs: one rule for missing directories across run, sweep, plot,
export and sensitivity; errors blame the output, not the input; and every
error is exactly one line on stderr, whatever libraries print
(gpusim/io/paths.py, gpusim/cli/main.py)."""

from __future__ import annotations

import warnings
from pathlib import Path

import h5py
import pytest
from conftest import assert_one_line_error, cli, gpusim

ROOT = Path(__file__).parents[1]
QUICKSTART = ROOT / "configs" / "quickstart.toml"
#: A directory nobody (root included) may create files in.
UNWRITABLE = Path("/sys")


@pytest.fixture
def no_frames_run(tmp_path, capsys) -> Path:
    out = tmp_path / "noframes.h5"
    assert cli(capsys, "run", QUICKSTART, "-o", out, "--backend", "cpu", "-q", "--steps", "5",
               "--set", "lattice.shape=[20,20]", "--set", "output.frame_every_steps=0").returncode == 0
    return out


# Each in a fresh process: the first import of pandas/matplotlib there is what
# prints "NumExpr defaulting to N threads" and "Animation.save using ...".
@pytest.mark.parametrize("args,fragments,code", [
    (["summarize", "{run}", "--no-such-flag"], ["unrecognized arguments"], 2),
    (["summarize", "{tmp}/missing.h5"], ["missing.h5: no such file"], 2),
    (["plot", "{run}", "-o", f"{UNWRITABLE}/p.png"], [f"{UNWRITABLE}/p.png"], None),
    (["plot", "{run}", "--movie", f"{UNWRITABLE}/m.gif"], [f"{UNWRITABLE}/m.gif"], None),
    (["plot", "{noframes}", "--movie", "{tmp}/m.gif"], ["has no lattice frames to animate"], 2),
])
def test_summarize_plot_movie_errors_are_one_line(tmp_path, quickstart_run, no_frames_run, args, fragments, code):
    args = [a.format(run=quickstart_run, tmp=tmp_path, noframes=no_frames_run) for a in args]
    proc = gpusim(*args)
    assert_one_line_error(proc, *fragments, code=code if code is not None else proc.returncode)
    assert proc.returncode in (2, 74)
    assert str(quickstart_run) not in proc.stderr or "cannot read" not in proc.stderr  # never blames the input


def test_plot_into_an_unwritable_place_blames_the_output(quickstart_run, capsys):
    proc = cli(capsys, "plot", quickstart_run, "-o", UNWRITABLE / "p.png")
    assert proc.returncode in (2, 74)  # refused up front (not root) or when writing (root)
    assert proc.stderr.startswith(f"gpusim: error: {UNWRITABLE}/p.png: ") and str(quickstart_run) not in proc.stderr


def test_run_into_an_existing_directory(tmp_path, capsys):
    assert_one_line_error(cli(capsys, "run", QUICKSTART, "-o", tmp_path, "--overwrite"),
                          f"{tmp_path}: is a directory")


@pytest.mark.parametrize("command", [
    ["run", str(QUICKSTART), "-o", "{missing}/x.h5"],
    ["plot", "{run}", "-o", "{missing}/x.png"],
    ["plot", "{run}", "--movie", "{missing}/x.gif"],
    ["sweep", str(ROOT / "configs" / "sweep_small.toml"), "-o", "{missing}/sweep"],
    ["export", "{run}", "--to", "csv", "-o", "{missing}/export"],
])
def test_one_rule_for_missing_output_directories(tmp_path, quickstart_run, capsys, command):
    missing = tmp_path / "no" / "such"
    args = [a.format(missing=missing, run=quickstart_run) for a in command]
    assert_one_line_error(cli(capsys, *args), f"directory {missing}", "does not exist")
    assert not (tmp_path / "no").exists()  # nothing created


def test_warnings_print_only_when_the_command_succeeds(monkeypatch, capsys, quickstart_run):
    from gpusim.cli import summarize

    real = summarize.main

    def noisy(args):
        warnings.warn("a library's notice", UserWarning)
        return real(args)

    monkeypatch.setattr(summarize, "main", noisy)  # the parser is built per call: it picks this up

    ok = cli(capsys, "summarize", quickstart_run)
    assert ok.returncode == 0 and ok.stderr.strip() == "gpusim: warning: UserWarning: a library's notice"
    bad = cli(capsys, "summarize", quickstart_run.parent / "missing.h5")
    assert_one_line_error(bad, "missing.h5")


def test_a_failed_write_leaves_the_input_untouched(quickstart_run, capsys):
    before = quickstart_run.read_bytes()
    cli(capsys, "plot", quickstart_run, "-o", UNWRITABLE / "p.png")
    assert quickstart_run.read_bytes() == before
    with h5py.File(quickstart_run) as f:
        assert f.attrs["status"] == "complete"
