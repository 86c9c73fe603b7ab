"""Per-kernel launches, time and minimum memory traffic of a step
(``gpusim bench --profile``), against a device copy timed in the same run.

Every kernel states its minimum traffic once, in its header comment in
``kernels/*.cu``::

    //   min traffic: 5 B/site + 16 B/thread (what is read and written)

``B/site`` counts per lattice site, ``B/thread`` per thread of the launch
(a field cell, a clone row, a new clone).  This module parses those lines;
nothing else declares the numbers.

>>> min_traffic()["tumour_death"]
(5.0, 0.0)
>>> launch_bytes("field_secrete", n_threads=4, n_sites=64)
320.0
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from functools import lru_cache

from ..abi import kernel_dir
from .sources import KERNEL_SOURCES
from .tiles import TILE_SITES, VESSELS

_KERNEL = re.compile(r"GPUSIM_KERNEL\s+void\s+(\w+)\s*\(")
_TRAFFIC = re.compile(r"^//\s+min traffic:\s*(.*)$")
_TERM = re.compile(r"(\d+(?:\.\d+)?)\s*B/(site|thread)\b")


@lru_cache(maxsize=1)
def min_traffic() -> dict[str, tuple[float, float]]:
    """kernel name -> (bytes per site, bytes per thread) from its header."""
    out: dict[str, tuple[float, float]] = {}
    for src in KERNEL_SOURCES:
        pending = None
        for line in (kernel_dir() / src).read_text().splitlines():
            m = _TRAFFIC.match(line)
            if m:
                terms = {"site": 0.0, "thread": 0.0}
                for value, unit in _TERM.findall(m.group(1)):
                    terms[unit] += float(value)
                pending = (terms["site"], terms["thread"])
                continue
            k = _KERNEL.search(line)
            if k and pending is not None:
                out[k.group(1)] = pending
                pending = None
    return out


def launch_bytes(name: str, n_threads: int, n_sites: int) -> float:
    """Minimum bytes one launch of ``name`` over ``n_threads`` moves."""
    per_site, per_thread = min_traffic()[name]
    return per_site * n_sites + per_thread * n_threads


@dataclass
class KernelStats:
    launches: int = 0
    seconds: float = 0.0
    bytes: float = 0.0


@dataclass
class Recorder:
    """Wraps a kernel backend's launches: counts launches and model bytes,
    and (``timed``) times each launch (host timer on the cpu backend, CUDA
    events on the GPU)."""

    be: object
    timed: bool = False
    kernels: dict[str, KernelStats] = field(default_factory=dict)
    _events: list = field(default_factory=list)

    def __post_init__(self):
        dev = self.be.device
        self._launch = dev.launch
        self._launch_tiles = dev.launch_tiles
        n_sites = self.be.mp.n_sites

        def launch(name, n_threads, params, fields, sub=0, n_runs=1):
            self._record(name, launch_bytes(name, n_threads, n_sites) * n_runs,
                         lambda: self._launch(name, n_threads, params, fields, sub, n_runs))

        def launch_tiles(name, per_entry, slot, max_entries, params, fields, sub=0, n_runs=1):
            # Over active tiles (engine/tiles.py): the bytes of the sites
            # visited, each run's list length read back (profiling only).
            # (One run, the benchmark's case, without a numpy gather and sum:
            # this runs inside `gpusim bench`'s timed steps.)
            state, active = dev.to_host(self.be.tile_state), self.be.active
            entries = int(state[active[0], slot]) if len(active) == 1 else int(state[active, slot].sum())
            per_site, per_thread = min_traffic()[name]
            # A per-site phase visits 64 sites per entry, recruitment one vessel site; the others count per thread.
            sites = entries * (TILE_SITES if per_entry == TILE_SITES else int(slot == VESSELS))
            self._record(name, per_site * sites + per_thread * entries * per_entry,
                         lambda: self._launch_tiles(name, per_entry, slot, max_entries, params, fields, sub,
                                                    n_runs))

        dev.launch = launch
        dev.launch_tiles = launch_tiles

    def _record(self, name: str, nbytes: float, run) -> None:
        st = self.kernels.setdefault(name, KernelStats())
        st.launches += 1
        st.bytes += nbytes
        if not self.timed:
            return run()
        dev = self.be.device
        if dev.name == "cuda":
            start, end = dev.xp.cuda.Event(), dev.xp.cuda.Event()
            start.record()
            run()
            end.record()
            self._events.append((st, start, end))
        else:
            t0 = time.perf_counter()
            run()
            st.seconds += time.perf_counter() - t0

    def collect(self) -> dict[str, KernelStats]:
        """Stats so far (waits for the GPU's timings)."""
        for st, start, end in self._events:
            end.synchronize()
            st.seconds += self.be.device.xp.cuda.get_elapsed_time(start, end) / 1e3
        self._events.clear()
        return self.kernels

    def reset(self) -> None:
        self.collect()
        self.kernels.clear()

    def close(self) -> None:
        self.be.device.launch = self._launch
        self.be.device.launch_tiles = self._launch_tiles

    @property
    def bytes(self) -> float:
        return sum(st.bytes for st in self.kernels.values())
