"""Run-file layout (DESIGN §5) and byte-identical datasets across backends."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
from conftest import require_backend
from test_tumour import random_tumour_config

from gpusim.io.runfile import FIELDS
from gpusim.observables import OBSERVABLES
from gpusim.simulation import run_to_file


def datasets(path) -> dict[str, np.ndarray]:
    out = {}
    with h5py.File(path) as f:
        for group in ("observables", "fields", "clones"):
            f[group].visititems(lambda name, obj: out.__setitem__(f"{group}/{name}", obj[()])
                                if isinstance(obj, h5py.Dataset) else None)
    return out


def test_layout(tmp_path):
    cfg = random_tumour_config(11, 2, "moore", "closed", steps=40).model_copy()
    cfg.output.frame_every_steps = 15
    out = tmp_path / "run.h5"
    run_to_file(cfg, out, backend="cpu")
    with h5py.File(out) as f:
        assert tuple(f["h5md"].attrs["version"]) == (1, 1)
        assert f["h5md/creator"].attrs["name"] == "gpusim"
        assert f.attrs["status"] == "complete"
        p = f["parameters"].attrs
        assert p["seed"] == cfg.simulation.seed and p["backend"] == "cpu"
        assert tuple(p["lattice_shape"]) == cfg.lattice.shape
        for name in OBSERVABLES:
            g = f["observables"][name]
            np.testing.assert_array_equal(g["step"][()], np.arange(41))
            np.testing.assert_allclose(g["time"][()], np.arange(41) * cfg.simulation.dt_minutes / 1440)
            assert len(g["value"]) == 41
        for name in FIELDS:
            v = f["fields"][name]["value"]
            # Frames at steps 0, 15, 30 and the final step 40.
            np.testing.assert_array_equal(f["fields"][name]["step"][()], [0, 15, 30, 40])
            k = f["fields"][name].attrs["grid_coarsening"]
            assert v.shape == (4, -(-cfg.lattice.shape[1] // k), -(-cfg.lattice.shape[0] // k))
            assert v.chunks == (1, *v.shape[1:]) and v.compression == "gzip" and v.shuffle
        last = f["fields/tumour_clone/value"][-1]
        assert int(np.count_nonzero(last)) == f["observables/tumour_cells/value"][-1]
        assert len(f["clones/id"]) == len(f["clones/parent"]) > 2


@pytest.mark.parametrize("dim", [2, 3])
@pytest.mark.parametrize("other", ["cpu", pytest.param("cuda", marks=pytest.mark.gpu)])
def test_run_files_identical_across_backends(tmp_path, dim, other):
    require_backend(other)
    cfg = random_tumour_config(21 + dim, dim, "von_neumann", "periodic", steps=200)
    cfg.output.frame_every_steps = 50
    run_to_file(cfg, tmp_path / "ref.h5", backend="numpy")
    run_to_file(cfg, tmp_path / "other.h5", backend=other)
    a, b = datasets(tmp_path / "ref.h5"), datasets(tmp_path / "other.h5")
    assert sorted(a) == sorted(b) and len(a) > 20
    for name in a:
        assert a[name].dtype == b[name].dtype, name
        assert a[name].tobytes() == b[name].tobytes(), name
