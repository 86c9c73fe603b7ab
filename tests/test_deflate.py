"""gpusim.io.deflate: chunks shuffled and deflated in threads, written
already filtered, read back by plain HDF5 as the same values."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from gpusim.io.deflate import ChunkDeflater, can_deflate


@pytest.mark.parametrize("dtype", [np.uint8, np.uint32, np.float32, np.uint64])
def test_partial_edge_chunks_read_back_equal(tmp_path, dtype):
    rng = np.random.default_rng(1)
    a = (rng.integers(0, 7, size=(3, 11, 5, 4)) * rng.integers(0, 2, size=(3, 11, 5, 4))).astype(dtype)
    flat = a.reshape(-1)[:1001]
    with h5py.File(tmp_path / "d.h5", "w") as f:
        frames = f.create_dataset("frames", shape=a.shape, dtype=dtype, chunks=(1, 4, 5, 4),
                                  compression="gzip", compression_opts=4, shuffle=True)
        line = f.create_dataset("line", shape=flat.shape, dtype=dtype, chunks=(128,), maxshape=(None,),
                                compression="gzip", compression_opts=1, shuffle=True)
        with ChunkDeflater(frames) as out:
            for k in range(3):
                for lo in range(0, 11, 4):  # rows 8..10: a partial edge chunk
                    out.put((k, lo, 0, 0), a[k, lo:lo + 4])
        with ChunkDeflater(line) as out:
            for lo in range(0, flat.size, 128):
                out.put((lo,), flat[lo:lo + 128])
    with h5py.File(tmp_path / "d.h5") as f:
        assert f["frames"][()].tobytes() == a.tobytes()
        assert f["line"][()].tobytes() == flat.tobytes()
        assert f["frames"].compression == "gzip" and f["frames"].shuffle


def test_only_shuffle_plus_gzip_is_deflated_by_hand(tmp_path):
    with h5py.File(tmp_path / "d.h5", "w") as f:
        plain = f.create_dataset("plain", shape=(10,), dtype=np.uint32, chunks=(5,))
        lzf = f.create_dataset("lzf", shape=(10,), dtype=np.uint32, chunks=(5,), compression="lzf")
        gz = f.create_dataset("gz", shape=(10,), dtype=np.uint32, chunks=(5,), compression="gzip")
        assert not can_deflate(plain) and not can_deflate(lzf) and not can_deflate(gz)
        with pytest.raises(ValueError, match="shuffle"):
            ChunkDeflater(gz)
