"""Where kernels run: the host (compiled C++ + OpenMP, NumPy arrays) or a
CUDA GPU (NVRTC through CuPy, CuPy arrays).

Both expose the same small interface, so everything above them (the phase
orchestration in ``engine/tumour.py`` and friends) is written once:

* ``xp``: the array module (numpy or cupy)
* ``launch(name, n_threads, params, fields, sub, n_runs)``: run a kernel
  over n threads in each of ``n_runs`` runs of a batch (grid y = run)
* ``params_buffer(records)`` / ``fields_buffer(records)``: the per-run
  arrays of the two structs every kernel takes, placed where kernels can
  read them; ``fields_record(arrays)`` is one run's Fields record
"""

from __future__ import annotations

import ctypes
import os
from functools import lru_cache

import numpy as np

from .. import abi
from ..hostinfo import copy_bytes_per_s as host_copy_bytes_per_s
from .sources import BLOCK_SIZE, source_digest, unit_source


def _fields_record(arrays: dict, address) -> np.ndarray:
    rec = np.zeros(1, dtype=abi.struct_dtype("Fields"))
    for name in rec.dtype.names:
        if name in arrays:
            value = arrays[name]
            if isinstance(value, (list, tuple)):  # a pointer array (diffusing fields, tile occupancy)
                rec[name][0, : len(value)] = [0 if a is None else address(a) for a in value]
            else:
                rec[name] = address(value)
    return rec


def _blocks(n_threads: int) -> int:
    return (n_threads + BLOCK_SIZE - 1) // BLOCK_SIZE


class CpuDevice:
    """Kernels compiled by the host C++ compiler, launched over OpenMP."""

    name = "cpu"
    xp = np

    def __init__(self):
        from .host_build import build_library

        # Sleep rather than spin at OpenMP barriers: with MPI ranks (or other
        # jobs) sharing the cores, a spinning thread waits a whole time slice
        # for a descheduled peer at every launch.  Must be set before libgomp
        # loads; the user's own setting wins.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        self.library_path = build_library()
        self._lib = ctypes.CDLL(str(self.library_path))
        self._kernels: dict[str, int] = {}
        self._addresses: dict[int, tuple[np.ndarray, int]] = {}

    def _address(self, a: np.ndarray) -> int:
        """``a.ctypes.data``, remembered: the same Params and Fields buffers
        serve launch after launch, and asking numpy costs more than a small
        kernel (the entry holds ``a``, so its id is not reused meanwhile)."""
        hit = self._addresses.get(id(a))
        if hit is None or hit[0] is not a:
            if len(self._addresses) >= 16:  # buffers rebuilt since: forget them
                self._addresses.clear()
            hit = self._addresses[id(a)] = (a, a.ctypes.data)
        return hit[1]

    @property
    def threads(self) -> int:
        return int(self._lib.gpusim_max_threads())

    def _kernel(self, name: str):
        """The kernel's launcher, gpusim_launch_<name>(nblocks, nruns, P, F, sub) (host_launch.h)."""
        if name not in self._kernels:
            fn = getattr(self._lib, f"gpusim_launch_{name}")
            fn.argtypes = [ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint]
            fn.restype = None
            self._kernels[name] = fn
        return self._kernels[name]

    def params_buffer(self, records: np.ndarray):
        return records  # host memory: kernels read the records in place

    def fields_record(self, arrays: dict) -> np.ndarray:
        return _fields_record(arrays, lambda a: a.ctypes.data)

    def fields_buffer(self, records: np.ndarray):
        return records

    def launch(self, name: str, n_threads: int, params, fields, sub: int = 0, n_runs: int = 1) -> None:
        if n_threads <= 0 or n_runs <= 0:
            return
        self._kernel(name)(_blocks(n_threads), n_runs, self._address(params), self._address(fields), sub)

    def launch_tiles(self, name: str, per_entry: int, slot: int, max_entries: int, params, fields, sub: int = 0,
                     n_runs: int = 1) -> None:
        """``per_entry`` threads per entry of each run's list (kernels/tiles.cuh),
        of length ``tile_state[slot]``: the launcher reads the lengths in
        place and runs only the blocks that cover them."""
        if n_runs > 0:
            self._tiles_kernel(name)(per_entry, slot, n_runs, self._address(params), self._address(fields), sub)

    def _tiles_kernel(self, name: str):
        key = f"tiles_{name}"
        if key not in self._kernels:
            fn = getattr(self._lib, f"gpusim_launch_tiles_{name}")
            fn.argtypes = [ctypes.c_uint, ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p,
                           ctypes.c_uint]
            fn.restype = None
            self._kernels[key] = fn
        return self._kernels[key]

    def to_host(self, a) -> np.ndarray:
        return np.asarray(a)

    def host_view(self, a) -> np.ndarray:
        """``a`` itself: kernels have finished with it, and reading it costs nothing."""
        return a

    def synchronize(self) -> None:
        """Nothing to wait for: a host launch returns when its kernel is done."""

    def fill_bytes(self, a, byte: int) -> None:
        """Every byte of ``a`` (contiguous) set to ``byte``."""
        a.view(np.uint8).fill(byte)

    def upload(self, dst, src: np.ndarray) -> None:
        """Copy host ``src`` into the contiguous device view ``dst``."""
        dst[...] = src

    def copy(self, dst, src) -> None:
        """Copy the contiguous array ``src`` into ``dst`` (same size and dtype)."""
        np.copyto(dst, src)

    def copy_bytes_per_s(self, nbytes: int, min_seconds: float = 0.2) -> float:
        """Bytes read + written per second by a host memcpy of ``nbytes``."""
        return host_copy_bytes_per_s(nbytes, min_seconds)

    def describe(self) -> str:
        return f"cpu ({self.threads} OpenMP threads, {self.library_path.name})"


@lru_cache(maxsize=1)
def _cuda_module():
    import cupy

    from .nvrtc_options import NVRTC_OPTIONS, include_options

    # CuPy keys its compile cache by the code string and options only, and
    # our code string is a list of #includes: stamp it with the digest of
    # every kernel file so an edited header can never reuse a stale binary.
    options = NVRTC_OPTIONS + include_options()
    code = f"// gpusim kernels {source_digest(*options)}\n" + unit_source()
    return cupy.RawModule(code=code, options=options, backend="nvrtc")


class CudaDevice:
    """The same kernels compiled by NVRTC and launched by CuPy."""

    name = "cuda"

    def __init__(self, device_id: int | None = None):
        import cupy

        self.xp = cupy
        if device_id is None:
            from ..memory import cuda_device_id

            device_id = cuda_device_id()
        cupy.cuda.Device(device_id).use()
        self.device_id = device_id
        self._module = _cuda_module()
        self._kernels: dict = {}

    def _kernel(self, name: str):
        if name not in self._kernels:
            self._kernels[name] = self._module.get_function(name)
        return self._kernels[name]

    def params_buffer(self, records: np.ndarray):
        return self.xp.asarray(records.view(np.uint8))

    def fields_record(self, arrays: dict) -> np.ndarray:
        return _fields_record(arrays, lambda a: a.data.ptr)

    def fields_buffer(self, records: np.ndarray):
        return self.xp.asarray(records.view(np.uint8))

    def launch(self, name: str, n_threads: int, params, fields, sub: int = 0, n_runs: int = 1) -> None:
        if n_threads <= 0 or n_runs <= 0:
            return
        self._kernel(name)((_blocks(n_threads), n_runs), (BLOCK_SIZE,), (params, fields, np.uint32(sub)))

    def launch_tiles(self, name: str, per_entry: int, slot: int, max_entries: int, params, fields, sub: int = 0,
                     n_runs: int = 1) -> None:
        """``per_entry`` threads per entry of each run's list (kernels/tiles.cuh).
        The lists' lengths are on the device and the host does not wait to
        read them: the grid covers ``max_entries`` (every tile; per-site
        phases then also cover every site) and blocks past a run's list
        return at once."""
        CudaDevice.launch(self, name, max_entries * per_entry, params, fields, sub, n_runs)  # not a profiler's wrapper

    def to_host(self, a) -> np.ndarray:
        return self.xp.asnumpy(a)

    def host_view(self, a) -> None:
        """None: reading a device array would wait for every queued launch
        (the host decides nothing from device values mid-step)."""
        return None

    def synchronize(self) -> None:
        """Wait for every kernel queued on this device."""
        self.xp.cuda.Device(self.device_id).synchronize()

    # memset and memcpy, not CuPy's elementwise kernels: nothing compiled at start-up.
    def fill_bytes(self, a, byte: int) -> None:
        """Every byte of ``a`` (contiguous) set to ``byte``."""
        if a.nbytes:
            self.xp.cuda.runtime.memsetAsync(a.data.ptr, byte, a.nbytes, self.xp.cuda.get_current_stream().ptr)

    def upload(self, dst, src: np.ndarray) -> None:
        """Copy host ``src`` into the contiguous device view ``dst``."""
        dst.set(np.ascontiguousarray(src, dtype=dst.dtype))

    def copy(self, dst, src) -> None:
        """Copy the contiguous device array ``src`` into ``dst`` (same size and dtype): a memcpy."""
        if src.nbytes:
            cp = self.xp
            cp.cuda.runtime.memcpyAsync(dst.data.ptr, src.data.ptr, src.nbytes, cp.cuda.runtime.memcpyDeviceToDevice,
                                        cp.cuda.get_current_stream().ptr)

    def copy_bytes_per_s(self, nbytes: int, min_seconds: float = 0.2) -> float:
        """Bytes read + written per second by a device-to-device copy of
        ``nbytes`` (cudaMemcpyAsync, timed with CUDA events)."""
        cp = self.xp
        nbytes = max(nbytes, 1)
        src, dst = cp.empty(nbytes, dtype=cp.uint8), cp.empty(nbytes, dtype=cp.uint8)
        self.fill_bytes(src, 1)
        stream = cp.cuda.get_current_stream()

        def copy():
            cp.cuda.runtime.memcpyAsync(dst.data.ptr, src.data.ptr, nbytes,
                                        cp.cuda.runtime.memcpyDeviceToDevice, stream.ptr)

        copy()
        stream.synchronize()
        reps, elapsed = 0, 0.0
        while elapsed < min_seconds or reps < 3:
            start, end = cp.cuda.Event(), cp.cuda.Event()
            start.record()
            for _ in range(10):
                copy()
            end.record()
            end.synchronize()
            elapsed += cp.cuda.get_elapsed_time(start, end) / 1e3
            reps += 10
        return 2.0 * nbytes * reps / elapsed

    def describe(self) -> str:
        props = self.xp.cuda.runtime.getDeviceProperties(self.device_id)
        return f"cuda (device {self.device_id}: {props['name'].decode()})"
