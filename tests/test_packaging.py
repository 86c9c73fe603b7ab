"""``pip install .`` (not only editable) ships the kernels, and ``import
gpusim`` loads neither CuPy nor a compiler."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]


@pytest.mark.slow
def test_wheel_ships_kernels_and_finds_them(tmp_path):
    pytest.importorskip("hatchling", reason="hatchling not installed (pip install '.[test]')")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(tmp_path), str(ROOT)], check=True)
    (wheel,) = tmp_path.glob("gpusim-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    kernels = sorted(p.name for p in (ROOT / "kernels").iterdir())
    for name in kernels:
        assert f"gpusim/kernels/{name}" in names
    assert "gpusim/scripts/slurm/sweep.sbatch.in" in names  # gpusim submit's template
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
                   check=True)
    code = ("from gpusim.engine.sources import kernel_dir; from gpusim.sweep.slurm import template_dir; "
            "print(kernel_dir()); print(template_dir())")
    out = subprocess.run([sys.executable, "-c", code], env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"},
                         cwd=tmp_path, capture_output=True, text=True, check=True).stdout.split()
    assert [Path(p) for p in out] == [target / "gpusim" / "kernels", target / "gpusim" / "scripts" / "slurm"]


def test_import_is_lazy():
    code = ("import sys, gpusim; bad = [m for m in ('cupy', 'gpusim.engine.device', 'gpusim.engine.host_build', 'h5py') if m in sys.modules]; "
            "print(','.join(bad))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "", f"import gpusim loaded {out}"
