"""gpusim validate: the quick reproduction passes every criterion (CI fails
when one fails), the report has a section per result, and a failed
criterion makes the command exit 1."""

from __future__ import annotations

import subprocess

import pytest

from gpusim.validate import SECTIONS
from gpusim.validate.report import Section


@pytest.mark.slow
@pytest.mark.parametrize("name", [name for name, _ in SECTIONS])
def test_quick_validation_passes_every_criterion(tmp_path, installed, name):
    """The CI run of `gpusim validate --quick`, a section per test (so the
    sections run side by side on CI's cores: together about 3 minutes of
    one core), by the gpusim installed from the wheel (``pip install .``),
    outside the checkout: it finds its scenario configs in the package."""
    proc = subprocess.run([str(installed / "gpusim"), "validate", "--quick", "--only", name, "--processes", "1",
                           "-o", str(tmp_path)], capture_output=True, text=True, timeout=900, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-2000:]
    report = (tmp_path / "validation.md").read_text()
    assert report.count(": PASS\n") == 1 and ": FAIL" not in report, report
    figures = list(tmp_path.glob("validation_*.png"))
    assert figures and all(f.read_bytes()[:4] == b"\x89PNG" for f in figures)


def test_failed_criterion_exits_1_and_says_fail(tmp_path, monkeypatch, capsys):
    from gpusim import validate
    from gpusim.cli.main import main

    monkeypatch.setattr(validate, "SECTIONS", [
        ("good", lambda out, quick, n: Section("Holds", "lit", "crit", True, ["1"])),
        ("bad", lambda out, quick, n: Section("Broken", "lit", "crit", False, ["2"]))])
    assert main(["validate", "--quick", "-o", str(tmp_path)]) == 1
    report = (tmp_path / "validation.md").read_text()
    assert "## Holds: PASS" in report and "## Broken: FAIL" in report and "1 of 2 criteria hold" in report
    assert "a criterion FAILED" in capsys.readouterr().out
    assert main(["validate", "-o", str(tmp_path), "--only", "good"]) == 0


def test_unknown_section_is_one_line_exit_2(tmp_path, capsys):
    from gpusim.cli.main import main

    assert main(["validate", "-o", str(tmp_path), "--only", "nope"]) == 2
    err = capsys.readouterr().err.strip()
    assert "--only nope: no such section" in err and "\n" not in err
