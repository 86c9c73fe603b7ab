"""Exact-restart checkpoints inside the run file (``/checkpoint``).

A checkpoint is the whole :class:`~gpusim.state.State`, stored generically:
every array of ``state.sites``, the used rows of every ``state.clones``
column, every array or scalar of ``state.extra`` (nested dicts become
groups), plus ``step`` and ``n_clones``.  Nothing is named here, so arrays
added to the state later are checkpointed without touching this module.
No RNG state is needed: Philox is counter-based (DESIGN §3), the step number
is enough.

::

    /checkpoint            attr current = "a" | "b": the slot holding the last complete checkpoint
    /checkpoint/a, /b      attrs step, n_clones, runtime_s; groups sites/, clones/, extra/

Why two slots and a pointer (and not "write /checkpoint_new, delete, rename"):
HDF5 has no transactions, so atomicity has to come from the order of writes.
A new checkpoint is written into the slot that ``current`` does *not* name,
the file is flushed, and only then is ``current`` flipped by an in-place
one-byte attribute write and flushed again.  A SIGKILL before that second
flush leaves ``current`` naming the previous, untouched slot; after it, the
new one.  Nothing reachable from ``current`` is ever deleted or rewritten,
so HDF5's reuse of freed file space (which delete-and-rename triggers) can
only hit the slot nobody reads.

>>> import h5py, tempfile, os
>>> from gpusim.config import Config
>>> from gpusim.state import initial_state
>>> st = initial_state(Config.model_validate({"lattice": {"shape": [6, 6]}}))
>>> st.extra["note"] = {"scale": 0.5, "counts": np.arange(3)}
>>> path = os.path.join(tempfile.mkdtemp(), "c.h5")
>>> with h5py.File(path, "w") as f:
...     write_checkpoint(f, st, runtime_s=1.5)
...     back = read_checkpoint(f)
>>> back.state.step, back.state.n_clones, back.state.extra["note"]["scale"], back.runtime_s
(0, 2, 0.5, 1.5)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import h5py
import numpy as np

from ..errors import InputError
from ..state import State
from .deflate import ChunkDeflater, can_deflate

SLOTS = ("a", "b")
_NONE = b"-"  # ``current`` before the first checkpoint

# How a value was stored, so it comes back as the same Python type.
_KIND = "kind"


@dataclass
class Checkpoint:
    state: State
    runtime_s: float  # wall time of the run up to this checkpoint (all segments)


def current_slot(f: h5py.File) -> h5py.Group | None:
    """The slot holding the last complete checkpoint, or None."""
    root = f.get("checkpoint")
    if not isinstance(root, h5py.Group):
        return None
    name = root.attrs.get("current", _NONE)
    name = name.decode() if isinstance(name, bytes) else str(name)
    slot = root.get(name) if name in SLOTS else None
    return slot if isinstance(slot, h5py.Group) else None


def checkpoint_step(f: h5py.File) -> int | None:
    slot = current_slot(f)
    return None if slot is None else int(slot.attrs["step"])


def checkpoint_nbytes(state: State) -> int:
    """Bytes of array data :func:`write_checkpoint` stores for ``state``."""
    def size(tree) -> int:
        return sum(size(v) if isinstance(v, dict) else getattr(v, "nbytes", 0) for v in tree.values())

    return size(state.sites) + size(state.clone_table()) + size(state.extra)


def write_checkpoint(f: h5py.File, state: State, runtime_s: float = 0.0) -> None:
    """Write ``state`` (host arrays) into the free slot, then make it current.

    Flushes the file twice (see the module docstring for why)."""
    root = f.get("checkpoint")
    if root is None:
        root = f.create_group("checkpoint")
        root.attrs.create("current", _NONE, dtype="S1")
        root.attrs["description"] = "full state for exact restart (gpusim resume); 'current' names the valid slot"
    live = current_slot(f)
    target = "b" if live is not None and live.name.endswith("/a") else "a"
    slot = root.get(target)
    if slot is None:
        slot = root.create_group(target, track_order=True)
    _store(slot, "sites", state.sites)
    _store(slot, "clones", state.clone_table())
    _store(slot, "extra", state.extra)
    slot.attrs["step"] = np.int64(state.step)
    slot.attrs["n_clones"] = np.int64(state.n_clones)
    slot.attrs["runtime_s"] = float(runtime_s)
    f.flush()
    # In place: same type and size, so the object header is rewritten, not moved.
    root.attrs.modify("current", np.bytes_(target.encode()))
    f.flush()


def read_checkpoint(f: h5py.File) -> Checkpoint | None:
    """The current checkpoint as a host :class:`State`, or None when the file
    has none (like :func:`current_slot` and :func:`checkpoint_step`)."""
    slot = current_slot(f)
    if slot is None:
        return None
    try:
        return _read_slot(slot)
    except KeyError as err:  # a member of the slot is missing
        raise InputError(f"{f.filename}: damaged checkpoint {slot.name} ({err})") from None


def _read_slot(slot: h5py.Group) -> Checkpoint:
    n_clones = int(slot.attrs["n_clones"])
    clones = _load(slot["clones"])
    capacity = max(16, 1 << max(n_clones - 1, 0).bit_length())  # capacity does not affect results
    for name, col in clones.items():
        grown = np.zeros(capacity, dtype=col.dtype)
        grown[: len(col)] = col
        clones[name] = grown
    state = State(step=int(slot.attrs["step"]), n_clones=n_clones, sites=_load(slot["sites"]), clones=clones,
                  extra=_load(slot["extra"]))
    return Checkpoint(state, float(slot.attrs.get("runtime_s", 0.0)))


# --------------------------------------------------------------------------
# Generic (nested) storage of arrays and scalars


def _store(parent: h5py.Group, name: str, mapping: dict[str, Any]) -> None:
    g = parent.get(name)
    if not isinstance(g, h5py.Group):
        if g is not None:
            del parent[name]
        g = parent.create_group(name, track_order=True)
    for key in [k for k in g if k not in mapping]:
        del g[key]  # an entry the state no longer has
    for key, value in mapping.items():
        _put(g, str(key), value)


def to_host(value: Any) -> Any:
    """A NumPy copy of a device (CuPy) array; anything else unchanged."""
    return value.get() if hasattr(value, "__cuda_array_interface__") else value


#: At most this many bytes of an array travel to the host (and into HDF5) at
#: once: frames and checkpoints of a 10^9-site state stream through a bounded
#: buffer instead of a second copy of the state (DESIGN §7).
SLAB_BYTES = 64 * 2**20


def slabs(n: int, itemsize: int, row_items: int = 1):
    """(lo, hi) item ranges covering ``n`` items in whole rows of ``row_items``,
    each at most SLAB_BYTES (at least one row).

    >>> list(slabs(10, 2**25, 1))
    [(0, 2), (2, 4), (4, 6), (6, 8), (8, 10)]
    """
    rows = max(1, SLAB_BYTES // max(1, itemsize * row_items))
    step = rows * row_items
    for lo in range(0, n, step):
        yield lo, min(n, lo + step)


def is_device_array(value: Any) -> bool:
    return hasattr(value, "__cuda_array_interface__")


def _put(g: h5py.Group, key: str, value: Any) -> None:
    if (is_device_array(value) or isinstance(value, np.ndarray)) and value.ndim == 1 \
            and value.dtype.kind in "uif" and value.nbytes > SLAB_BYTES:
        _put_slabs(g, key, value)
        return
    value = to_host(value)
    if isinstance(value, dict):
        _store(g, key, value)
        g[key].attrs[_KIND] = "dict"
        return
    if value is None:
        kind, data = "none", np.zeros(0, dtype=np.uint8)
    elif isinstance(value, (bool, int, float, str)):
        kind, data = type(value).__name__, np.asarray(value)
    elif isinstance(value, (list, tuple)):
        kind, data = type(value).__name__, np.asarray(value)
    elif isinstance(value, (np.ndarray, np.generic)):
        kind, data = "numpy", np.asarray(value)
    else:
        raise TypeError(f"checkpoint: state entry {g.name}/{key} is a {type(value).__name__}; "
                        "only arrays, scalars, strings, lists and dicts can be checkpointed")
    if data.dtype.kind == "U":
        data = np.asarray(data, dtype=h5py.string_dtype())
    old = g.get(key)
    if (isinstance(old, h5py.Dataset) and old.attrs.get(_KIND) == kind and old.dtype == data.dtype
            and old.ndim == data.ndim and (data.ndim == 0 or old.chunks is not None)):
        if data.ndim:
            old.resize(data.shape)
        old[()] = data  # in place: the slot being written is not the live one
        return
    if old is not None:
        del g[key]
    if data.ndim == 0:
        ds = g.create_dataset(key, data=data)
    else:
        # Resizable so the next checkpoint into this slot overwrites in place;
        # light compression because state arrays are mostly empty sites.
        packed = {} if data.dtype.kind == "O" else {"compression": "gzip", "compression_opts": 1, "shuffle": True}
        ds = g.create_dataset(key, data=data, maxshape=(None,) * data.ndim, chunks=True, **packed)
    ds.attrs[_KIND] = kind


def _put_slabs(g: h5py.Group, key: str, value: Any) -> None:
    """A large 1-D array (on the device or the host), written one slab of
    SLAB_BYTES at a time: one slab is one HDF5 chunk, copied to the host
    alone (no host copy of the whole array) and deflated in parallel
    (:mod:`gpusim.io.deflate`: HDF5 alone would gzip gigabytes on one core)."""
    chunk = (max(1, SLAB_BYTES // value.dtype.itemsize),)
    old = g.get(key)
    if isinstance(old, h5py.Dataset) and old.attrs.get(_KIND) == "numpy" and old.dtype == value.dtype \
            and old.ndim == 1 and old.chunks == chunk and can_deflate(old):
        old.resize(value.shape)
        ds = old
    else:
        if old is not None:
            del g[key]
        ds = g.create_dataset(key, shape=value.shape, dtype=value.dtype, maxshape=(None,), chunks=chunk,
                              compression="gzip", compression_opts=1, shuffle=True)
        ds.attrs[_KIND] = "numpy"
    with ChunkDeflater(ds) as out:
        for lo, hi in slabs(len(value), value.dtype.itemsize):
            out.put((lo,), to_host(value[lo:hi]))


def _load(g: h5py.Group) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, obj in g.items():
        if isinstance(obj, h5py.Group):
            out[key] = _load(obj)
            continue
        kind = obj.attrs.get(_KIND, "numpy")
        data = obj[()]
        if kind == "none":
            out[key] = None
        elif kind in ("bool", "int", "float"):
            out[key] = {"bool": bool, "int": int, "float": float}[kind](data)
        elif kind == "str":
            out[key] = data.decode() if isinstance(data, bytes) else str(data)
        elif kind in ("list", "tuple"):
            items = [v.decode() if isinstance(v, bytes) else v for v in np.asarray(data).tolist()]
            out[key] = items if kind == "list" else tuple(items)
        else:
            out[key] = data
    return out
