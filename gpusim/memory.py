"""What a run needs in memory, checked before anything is allocated
(DESIGN §7): a run that does not fit is refused with one line naming both
figures, instead of dying part-way through allocation (or thrashing).

>>> from gpusim.config import Config
>>> cfg = Config.model_validate({"lattice": {"shape": [100, 100]}})
>>> need = required_bytes(cfg, "cpu")
>>> need["host"] == 100 * 100 * kernel_bytes_per_site() + 12 * 25**2
True
"""

from __future__ import annotations

import os

from .components import field_arrays, scratch, site_arrays
from .errors import InputError
from .params import model_params

#: Peak working arrays of one NumPy reference step (index arrays, Philox
#: words, claim winners), per site: measured with tracemalloc on the dense
#: `gpusim bench` states (86-90 B/site), rounded up.
NUMPY_WORKING_BYTES_PER_SITE = 96
GIB = 2.0**30


def _default(cfg):
    if cfg is None:
        from .config import Config

        return Config()
    return cfg


def state_bytes_per_site(cfg=None) -> int:
    """State arrays per site of a run of ``cfg`` (default: a default config)."""
    return sum(dt.itemsize for dt in site_arrays(_default(cfg)).values())


def _scratch_bytes(cfg, size: str) -> int:
    """Kernel-engine scratch per site (``size="sites"``) or per field cell (``"field"``)."""
    return sum(dt.itemsize for dt, s in scratch(cfg).values() if s == size)


def kernel_bytes_per_site(cfg=None) -> int:
    """State + per-site scratch (claim[]) per site on the kernel backends."""
    cfg = _default(cfg)
    return state_bytes_per_site(cfg) + _scratch_bytes(cfg, "sites")


def required_bytes(cfg, backend: str) -> dict[str, int]:
    """Bytes the run needs, by where: ``host`` (RAM) and, on cuda, ``device``."""
    mp = model_params(cfg)
    n, nf = mp.n_sites, mp.n_field
    field = sum(dt.itemsize for dt in field_arrays(cfg).values()) * nf
    if backend == "numpy":
        return {"host": n * (state_bytes_per_site(cfg) + NUMPY_WORKING_BYTES_PER_SITE) + 2 * field}
    kernel = n * kernel_bytes_per_site(cfg) + field + _scratch_bytes(cfg, "field") * nf  # + diffusion scratch
    if backend == "cuda":  # frames and checkpoints go through a host copy of the state
        return {"device": kernel, "host": n * state_bytes_per_site(cfg) + field}
    return {"host": kernel}


def host_available_bytes() -> int:
    """MemAvailable of /proc/meminfo (else physical pages): what a run may take."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def cuda_device_id() -> int:
    """The GPU this process runs on: ``GPUSIM_CUDA_DEVICE`` (an MPI rank's
    share of the node, :func:`gpusim.sweep.worker.configure_rank`), else 0."""
    return int(os.environ.get("GPUSIM_CUDA_DEVICE", "0"))


def device_available_bytes() -> int:
    """Free memory of this process's GPU (:func:`cuda_device_id`, not the
    default device 0: no context is left there), plus what CuPy's pool holds
    unused (freed arrays it keeps for reuse: a finished batch's)."""
    import cupy

    with cupy.cuda.Device(cuda_device_id()):
        free = int(cupy.cuda.runtime.memGetInfo()[0])
        return free + int(cupy.get_default_memory_pool().free_bytes())


def check_fits(cfg, backend: str, runs: int = 1) -> None:
    """Raise InputError (one line, both figures) when ``runs`` runs of
    ``cfg`` (a batch, gpusim.batch) do not fit."""
    need = required_bytes(cfg, backend)
    shape = "x".join(map(str, cfg.lattice.shape))
    batch = f" x {runs} runs" if runs > 1 else ""
    for where, nbytes in need.items():
        free = device_available_bytes() if where == "device" else host_available_bytes()
        if nbytes * runs > free:
            what = "GPU memory" if where == "device" else "host RAM"
            raise InputError(f"lattice {shape} ({cfg.lattice.n_sites:.3g} sites){batch} needs "
                             f"{nbytes * runs / GIB:.1f} GiB of {what} on the {backend} backend; "
                             f"{free / GIB:.1f} GiB free")
