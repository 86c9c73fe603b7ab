"""Parallel gzip for big datasets.

HDF5 runs a dataset's filters chunk by chunk on the calling thread, so a
full frame or a checkpoint of a 10^9-site lattice (gigabytes) is deflated on
one core: minutes, the same order as simulating 30 days on a GPU.  zlib
releases the GIL, so here each chunk is shuffled and deflated in a thread
pool and handed to HDF5 already filtered (``write_direct_chunk``), in
order.  The dataset keeps its declared filters (shuffle, then gzip: the
order h5py sets them up), so any HDF5 reader decodes the same values.

Only whole chunks go this way (the writers of frames and checkpoints cut
big arrays into slabs of exactly one chunk); a partial edge chunk is padded
with zeros, as HDF5 itself stores edge chunks.

>>> import h5py, numpy as np, tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "d.h5")
>>> a = np.arange(10, dtype=np.uint32)
>>> with h5py.File(path, "w") as f:
...     ds = f.create_dataset("a", shape=(10,), dtype=np.uint32, chunks=(4,),
...                           compression="gzip", compression_opts=1, shuffle=True)
...     with ChunkDeflater(ds) as out:
...         for lo in range(0, 10, 4):
...             out.put((lo,), a[lo:lo + 4])
>>> with h5py.File(path) as f:
...     bool((f["a"][()] == a).all())
True
"""

from __future__ import annotations

import os
import zlib
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

import numpy as np


@lru_cache(maxsize=1)
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=_workers(), thread_name_prefix="gpusim-deflate")


def _workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def can_deflate(ds) -> bool:
    """True when ``ds``'s filters are exactly shuffle + gzip (what we can
    reproduce by hand)."""
    return (ds.chunks is not None and ds.compression == "gzip" and ds.shuffle
            and not ds.fletcher32 and ds.scaleoffset is None)


def _filtered(chunk: np.ndarray, level: int) -> bytes:
    # HDF5's shuffle: byte j of every element, for j = 0 .. itemsize - 1.
    raw = chunk.view(np.uint8).reshape(-1, chunk.dtype.itemsize).T.tobytes()
    return zlib.compress(raw, level)


class ChunkDeflater:
    """Writes whole chunks of a shuffle + gzip dataset, deflated in threads;
    at most twice as many chunks in flight as there are threads (bounded
    memory).  Use as a context manager: leaving it writes what is pending."""

    def __init__(self, ds):
        if not can_deflate(ds):
            raise ValueError(f"{ds.name}: filters are not exactly shuffle + gzip")
        self.ds = ds
        self.level = int(ds.compression_opts)
        self.pending: deque = deque()
        self.depth = 2 * _workers()

    def put(self, offset: tuple[int, ...], data: np.ndarray) -> None:
        """Queue the chunk that starts at ``offset`` (``data`` no bigger than a chunk)."""
        shape = self.ds.chunks
        chunk = np.ascontiguousarray(data, dtype=self.ds.dtype)
        chunk = chunk.reshape((1,) * (len(shape) - chunk.ndim) + chunk.shape)
        if chunk.shape != shape:
            padded = np.zeros(shape, dtype=self.ds.dtype)
            padded[tuple(slice(0, n) for n in chunk.shape)] = chunk
            chunk = padded
        self.pending.append((offset, _pool().submit(_filtered, chunk, self.level)))
        while len(self.pending) > self.depth:
            self._write_one()

    def _write_one(self) -> None:
        offset, future = self.pending.popleft()
        self.ds.id.write_direct_chunk(offset, future.result())

    def close(self) -> None:
        while self.pending:
            self._write_one()

    def __enter__(self) -> "ChunkDeflater":
        return self

    def __exit__(self, *exc) -> None:
        if exc[0] is None:
            self.close()
        else:  # an error: drop what is queued (the file is marked failed above us)
            for _, future in self.pending:
                future.cancel()
            self.pending.clear()
