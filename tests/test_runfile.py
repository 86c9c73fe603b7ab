"""Run-file layout (DESIGN §5) and byte-identical datasets across backends."""

from __future__ import annotations

import os
import shutil
import subprocess
import xml.etree.ElementTree as ET

import h5py
import numpy as np
import pytest
from conftest import datasets, make_config, random_tumour_config, require_backend

from gpusim.io.frames import FIELDS, FieldSpec, coarse_grid, xdmf_path
from gpusim.io.runfile import RunWriter
from gpusim.observables import OBSERVABLES, observables_for
from gpusim.simulation import run_to_file
from gpusim.state import initial_state


def tumour_run(tmp_path, seed: int, dim: int, steps: int, frame_every: int, backend: str):
    """(config, run file): a random tumour config (Moore, closed) run with a frame every ``frame_every`` steps."""
    cfg = random_tumour_config(seed, dim, "moore", "closed", steps=steps).model_copy()
    cfg.output.frame_every_steps = frame_every
    out = tmp_path / "run.h5"
    run_to_file(cfg, out, backend=backend)
    return cfg, out


def test_layout(tmp_path):
    cfg, out = tumour_run(tmp_path, 11, 2, steps=40, frame_every=15, backend="cpu")
    with h5py.File(out) as f:
        assert tuple(f["h5md"].attrs["version"]) == (1, 1)
        assert f["h5md/creator"].attrs["name"] == "gpusim"
        assert f.attrs["status"] == "complete"
        p = f["parameters"].attrs
        assert p["seed"] == cfg.simulation.seed and p["backend"] == "cpu"
        assert tuple(p["lattice_shape"]) == cfg.lattice.shape
        for name in observables_for(cfg):
            g = f["observables"][name]
            np.testing.assert_array_equal(g["step"][()], np.arange(41))
            np.testing.assert_allclose(g["time"][()], np.arange(41) * cfg.simulation.dt_minutes / 1440)
            assert len(g["value"]) == 41
        assert set(f["fields"]) == {n for n, spec in FIELDS.items() if spec.source in ("clone", "tcell", "chemokine")}
        for name in f["fields"]:
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


# ----------------------------------------------------------------------------
# H5MD conventions, fields of any dtype and grid, the XDMF sidecar


def check_xdmf(h5path) -> int:
    """The XDMF sidecar parses and every HDF reference names an existing
    dataset with the stated dimensions; returns the number of references."""
    root = ET.parse(xdmf_path(h5path)).getroot()
    refs = 0
    with h5py.File(h5path) as f:
        for series in root.iter("Grid"):
            if series.get("CollectionType") != "Temporal":
                continue
            frames = series.findall("Grid")
            assert frames, "empty temporal collection"
            for k, frame in enumerate(frames):
                topo = frame.find("Topology")
                dims = [int(d) for d in topo.get("Dimensions").split()]
                assert topo.get("TopologyType") == f"{len(dims)}DCoRectMesh"
                time = float(frame.find("Time").get("Value"))
                for attr in frame.findall("Attribute"):
                    slab, data = attr.find("DataItem").findall("DataItem")
                    fname, _, dset = data.text.partition(":")
                    assert fname == os.path.basename(h5path)
                    ds = f[dset]
                    assert [int(d) for d in data.get("Dimensions").split()] == list(ds.shape)
                    start, stride, count = np.array(slab.text.split(), dtype=int).reshape(3, -1)
                    assert start[0] == k and list(count) == [1, *dims] and not start[1:].any()
                    assert f[dset.replace("/value", "/time")][k] == time
                    refs += 1
    return refs


def test_h5md_layout_units_and_xdmf(tmp_path):
    cfg, out = tumour_run(tmp_path, 12, 3, steps=30, frame_every=10, backend="numpy")
    with h5py.File(out) as f:
        assert f["h5md/author"].attrs["name"] and f["h5md/creator"].attrs["version"]
        for name, (_, unit, _) in observables_for(cfg).items():
            g = f["observables"][name]
            assert g["value"].attrs["unit"] == unit and g["time"].attrs["unit"] == "day"
            assert g["step"].dtype == np.int64 and g["time"].dtype == np.float64
        assert list(f["observables"]) == list(observables_for(cfg))  # in the order of the dict
        v = f["fields/tumour_clone/value"]
        assert v.shape == (4, *reversed(cfg.lattice.shape)) and v.dtype == np.uint32
        assert f["fields/tumour_clone"].attrs["spacing_um"] == cfg.lattice.dx_um
        assert f["checkpoint"].attrs["current"] in (b"a", b"b")
        assert f["parameters"].attrs["dx_um"] == cfg.lattice.dx_um
    with h5py.File(out) as f:
        assert check_xdmf(out) == 4 * len(f["fields"])  # four frames of every field


def test_fields_take_dtype_from_state_and_shape_from_grid(tmp_path, monkeypatch):
    """Any field FIELDS names: u8 per-site layers (the shipped tcells, and
    vessels as a plain-tuple entry), a coarse float32 field from
    ``state.extra`` (the shipped chemokine), an explicit grid; a source the
    state lacks is skipped."""
    monkeypatch.setitem(FIELDS, "vessels", ("vessel", "flag", "vessel sites"))
    monkeypatch.setitem(FIELDS, "absent", FieldSpec("no_such_array", "-", "not in the state"))
    monkeypatch.setitem(FIELDS, "clone_again", FieldSpec("clone", "clone id", "explicit grid",
                                                         lambda cfg: coarse_grid(cfg, 1)))
    cfg = make_config(lattice={"shape": [12, 10]}, simulation={"steps": 4}, chemokine={"grid_coarsening": 4},
                      output={"frame_every_steps": 2, "checkpoint_every_steps": 0})
    out = tmp_path / "run.h5"
    w = RunWriter(out, cfg, backend="numpy")
    states = []
    for step in range(5):
        st = initial_state(cfg)
        st.step = step
        st.sites["tcell"] = (np.arange(120) % (step + 2) == 0).astype(np.uint8)
        st.sites["vessel"] = (np.arange(120) % 7 == 0).astype(np.uint8)
        st.extra["chemokine"] = np.linspace(0, step, 9, dtype=np.float32)
        states.append(st)
    obs = {name: 0 for name in OBSERVABLES}
    w.start(obs, lambda: states[0])
    for step in range(1, 5):
        w.on_step(step, obs, lambda step=step: states[step])
    w.close(states[-1])
    with h5py.File(out) as f:
        assert sorted(f["fields"]) == ["chemokine", "clone_again", "tcells", "tumour_clone", "vessels"]
        assert f["fields/chemokine"].attrs["grid_coarsening"] == 4
        t, c = f["fields/tcells/value"], f["fields/chemokine/value"]
        assert t.dtype == np.uint8 and t.shape == (3, 10, 12) and c.dtype == np.float32 and c.shape == (3, 3, 3)
        assert c.chunks == (1, 3, 3) and c.compression == "gzip"
        assert t[1].tobytes() == states[2].sites["tcell"].tobytes()
        assert c[2].tobytes() == states[4].extra["chemokine"].tobytes()
        assert f["fields/chemokine"].attrs["spacing_um"] == 40.0 and f["fields/chemokine"].attrs["origin_um"] == 15.0
    assert check_xdmf(out) == 3 * 5  # three frames of five fields
    grids = [g.get("Name") for g in ET.parse(xdmf_path(out)).getroot().iter("Grid")
             if g.get("CollectionType") == "Temporal"]
    assert len(grids) == 2  # the lattice and the coarse chemokine grid


def test_h5dump_reads_the_quickstart_file(quickstart_run):
    h5dump = shutil.which("h5dump")
    if h5dump is None:
        if os.environ.get("CI"):
            pytest.fail("h5dump missing: .ci/run installs hdf5-tools")
        pytest.skip("h5dump not installed (apt-get install hdf5-tools)")
    proc = subprocess.run([h5dump, "-H", str(quickstart_run)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    for name in ("h5md", "fields", "tumour_clone", "observables", "clones", "checkpoint"):
        assert f'GROUP "{name}"' in proc.stdout
    assert 'ATTRIBUTE "status"' in proc.stdout
    proc = subprocess.run([h5dump, "-d", "/observables/tumour_cells/value", str(quickstart_run)],
                          capture_output=True, text=True)
    assert proc.returncode == 0 and "SIMPLE { ( 301 ) / ( H5S_UNLIMITED ) }" in proc.stdout
    assert check_xdmf(quickstart_run) > 0


class FakeDeviceArray:
    """A NumPy array that looks like a device (CuPy) array to gpusim.io:
    it has __cuda_array_interface__ and comes to the host only by .get()."""

    __cuda_array_interface__ = {}

    def __init__(self, a):
        self.a = np.asarray(a)
        self.dtype, self.shape, self.ndim, self.nbytes, self.size = (self.a.dtype, self.a.shape, self.a.ndim,
                                                                     self.a.nbytes, self.a.size)
        self.copies = []  # sizes of the host copies made

    def __len__(self):
        return len(self.a)

    def __getitem__(self, key):
        part = FakeDeviceArray(self.a[key])
        part.copies = self.copies
        return part

    def get(self):
        self.copies.append(self.a.nbytes)
        return self.a.copy()


def test_big_frames_and_checkpoints_stream_in_slabs(tmp_path, monkeypatch):
    """Frames and checkpoints over SLAB_BYTES go to the file slab by slab
    (chunks of whole rows, host copies no bigger than a slab) and hold the
    same values as when written whole."""
    import gpusim.io.checkpoint as checkpoint
    import gpusim.io.frames as frames
    from gpusim.io.checkpoint import read_checkpoint, write_checkpoint

    cfg = make_config(simulation={"steps": 6, "seed": 3}, lattice={"shape": [24, 20, 16]},
                      tumour={"initial_radius_cells": 5}, immune={"initial_tcells": 30},
                      output={"frame_every_steps": 3})
    run_to_file(cfg, tmp_path / "whole.h5", backend="numpy")
    monkeypatch.setattr(checkpoint, "SLAB_BYTES", 4096)
    monkeypatch.setattr(frames, "SLAB_BYTES", 4096)
    run_to_file(cfg, tmp_path / "slabs.h5", backend="numpy")
    with h5py.File(tmp_path / "whole.h5") as a, h5py.File(tmp_path / "slabs.h5") as b:
        v = b["fields/tumour_clone/value"]
        assert v.chunks == (1, 2, 20, 24)  # 2 rows of 20 x 24 uint32 = 3840 bytes <= 4096
        assert a["fields/tumour_clone/value"].chunks == (1, 16, 20, 24)
    whole, slabbed = datasets(tmp_path / "whole.h5"), datasets(tmp_path / "slabs.h5")
    assert whole.keys() == slabbed.keys()
    for name, value in whole.items():
        assert value.tobytes() == slabbed[name].tobytes(), name

    state = initial_state(cfg)
    device = {k: FakeDeviceArray(v) for k, v in state.sites.items()}
    state.sites = device
    with h5py.File(tmp_path / "ckpt.h5", "w") as f:
        write_checkpoint(f, state)
        back = read_checkpoint(f).state
    for name, arr in device.items():
        np.testing.assert_array_equal(back.sites[name], arr.a)
        assert max(arr.copies) <= 4096 and sum(arr.copies) == arr.nbytes, name


def slice_config(steps: int, slices: bool = True, full_every: int = 0):
    return make_config(simulation={"steps": steps, "seed": 5}, lattice={"shape": [14, 12, 10]},
                       tumour={"initial_radius_cells": 3, "division_rate_per_day": 20.0},
                       immune={"initial_tcells": 40, "vessel_density": 0.05},
                       output={"frame_every_steps": 3, "slices": slices, "full_frame_every_steps": full_every,
                               "checkpoint_every_steps": 0})


@pytest.mark.parametrize("full_every", [0, 4])
def test_slices_are_mid_planes_and_full_frames_sparse(tmp_path, full_every):
    """output.slices on a 3D lattice: xy/xz/yz mid-plane slices of every field
    at the frame cadence, full frames only at start, end and full_every; the
    slices hold exactly the mid-planes of the same run's full frames."""
    run_to_file(slice_config(7, False), tmp_path / "full.h5", backend="numpy")
    run_to_file(slice_config(7, True, full_every), tmp_path / "sliced.h5", backend="numpy")
    full_steps = [0, 4, 7] if full_every else [0, 7]
    with h5py.File(tmp_path / "full.h5") as a, h5py.File(tmp_path / "sliced.h5") as b:
        assert a["fields/tumour_clone/step"][()].tolist() == [0, 3, 6, 7]
        for name in ("tumour_clone", "tcells", "chemokine"):
            assert b[f"fields/{name}/step"][()].tolist() == full_steps
            nz, ny, nx = a[f"fields/{name}/value"].shape[1:]
            for plane, shape in (("xy", (ny, nx)), ("xz", (nz, nx)), ("yz", (nz, ny))):
                g = b[f"fields/{name}_{plane}"]
                assert g["step"][()].tolist() == [0, 3, 6, 7] and g["value"].shape[1:] == shape
                assert g.attrs["series"] == "slices"
            for k, step in enumerate([0, 3, 6, 7]):
                cube = a[f"fields/{name}/value"][k]
                np.testing.assert_array_equal(b[f"fields/{name}_xy/value"][k], cube[nz // 2])
                np.testing.assert_array_equal(b[f"fields/{name}_xz/value"][k], cube[:, ny // 2, :])
                np.testing.assert_array_equal(b[f"fields/{name}_yz/value"][k], cube[:, :, nx // 2])
            for k, step in enumerate(full_steps):
                frame = [0, 3, 6, 7].index(step) if step in (0, 3, 6, 7) else None
                if frame is not None:
                    np.testing.assert_array_equal(b[f"fields/{name}/value"][k], a[f"fields/{name}/value"][frame])
    xdmf = ET.parse(xdmf_path(tmp_path / "sliced.h5")).getroot()
    assert "tumour_clone_xy" in {a.get("Name") for a in xdmf.iter("Attribute")}
    assert "tumour_clone" not in {a.get("Name") for a in xdmf.iter("Attribute")}


def test_sliced_run_extended_equals_a_longer_run(tmp_path):
    """Resume cuts each series at its own grid (the end frames go) and the
    extended run's datasets equal those of a run made in one go."""
    from gpusim.simulation import resume_run

    run_to_file(slice_config(7, True, 4), tmp_path / "ext.h5", backend="numpy")
    run_to_file(slice_config(13, True, 4), tmp_path / "ref.h5", backend="numpy")
    resume_run(tmp_path / "ext.h5", steps=6, backend="cpu")
    got, want = datasets(tmp_path / "ext.h5"), datasets(tmp_path / "ref.h5")
    assert got.keys() == want.keys()
    for name in want:
        assert got[name].tobytes() == want[name].tobytes(), name
    assert want["fields/tumour_clone/step"].tolist() == [0, 4, 8, 12, 13]


def test_slices_ignored_on_a_2d_lattice(tmp_path):
    cfg = make_config(simulation={"steps": 4}, lattice={"shape": [16, 12]}, output={"frame_every_steps": 2,
                                                                                       "slices": True})
    run_to_file(cfg, tmp_path / "flat.h5", backend="numpy")
    with h5py.File(tmp_path / "flat.h5") as f:
        assert sorted(f["fields"]) == ["chemokine", "tcells", "tumour_clone"]
        assert f["fields/tumour_clone/step"][()].tolist() == [0, 2, 4]
        assert "series" not in f["fields/tumour_clone"].attrs
