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


@pytest.mark.slow
def test_the_installed_wheel_finds_the_readme_configs(installed, tmp_path):
    """Outside a checkout the README's commands find their configs (shipped in
    the wheel, found with importlib.resources) and import the installed copy."""
    env = {"PATH": f"{installed}:/usr/bin:/bin", "OMP_NUM_THREADS": "1", "HOME": str(tmp_path)}

    def gpusim(*args):
        return subprocess.run([str(installed / "gpusim"), *args], capture_output=True, text=True, env=env,
                              cwd=tmp_path, timeout=300)

    code = "import gpusim; print(gpusim.__file__); print(gpusim.config_path('quickstart'))"
    where = subprocess.run([str(installed / "python"), "-c", code], capture_output=True, text=True, env=env,
                           cwd=tmp_path, check=True).stdout.split()
    assert all(str(installed.parent) in w for w in where), where
    shipped = sorted(p.name for p in (ROOT / "configs").glob("*.toml"))
    assert sorted(p.name for p in Path(where[1]).parent.glob("*.toml")) == shipped
    proc = gpusim("run", "configs/quickstart.toml", "-o", "q.h5", "--backend", "numpy", "--steps", "3",
                  "--set", "lattice.shape=[20,20]")  # (not -q: it would silence the notice)
    assert proc.returncode == 0 and (tmp_path / "q.h5").is_file(), proc.stderr
    assert "using the shipped" in proc.stderr
    proc = gpusim("sweep", "configs/sweep_tmb_infiltration.toml", "-o", "tmb", "--dry-run")
    assert proc.returncode == 0 and "200 runs" in proc.stdout, proc.stderr
    assert gpusim("run", "configs/no_such.toml").returncode == 2
