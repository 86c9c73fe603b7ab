"""Philox4x32-10 in NumPy, vectorised: the generator of ``kernels/philox.cuh``
(Salmon et al. 2011, "Parallel random numbers: as easy as 1, 2, 3").

>>> import numpy as np
>>> out = philox4x32_10(np.zeros(4, np.uint32), np.zeros(2, np.uint32))
>>> " ".join(f"{w:08x}" for w in out)
'6627e8d5 e169c58d bc57ac4c 9b00dbd8'
"""

from __future__ import annotations

import numpy as np

_M0 = np.uint64(0xD2511F53)
_M1 = np.uint64(0xCD9E8D57)
_W0 = np.uint32(0x9E3779B9)
_W1 = np.uint32(0xBB67AE85)
_LO = np.uint64(0xFFFFFFFF)
_32 = np.uint64(32)


def philox4x32_10(counter, key) -> np.ndarray:
    """uint32[..., 4] counters, uint32[..., 2] keys (broadcast) -> uint32[..., 4]."""
    counter = np.asarray(counter, dtype=np.uint32)
    key = np.asarray(key, dtype=np.uint32)
    c0, c1, c2, c3 = (counter[..., i].astype(np.uint64) for i in range(4))
    k0 = np.broadcast_to(key[..., 0], c0.shape).astype(np.uint32)
    k1 = np.broadcast_to(key[..., 1], c0.shape).astype(np.uint32)
    with np.errstate(over="ignore"):  # the key schedule wraps mod 2**32 by design
        for r in range(10):
            if r:
                k0 = k0 + _W0
                k1 = k1 + _W1
            p0 = _M0 * c0
            p1 = _M1 * c2
            c0, c1, c2, c3 = (
                (p1 >> _32) ^ c1 ^ k0,
                p1 & _LO,
                (p0 >> _32) ^ c3 ^ k1,
                p0 & _LO,
            )
    return np.stack([c0, c1, c2, c3], axis=-1).astype(np.uint32)


def draw(index, step: int, phase: int, sub: int, key: tuple[int, int]) -> np.ndarray:
    """Words for counters (index, step, phase, sub): uint32[len(index), 4]."""
    index = np.asarray(index, dtype=np.uint32)
    ctr = np.empty(index.shape + (4,), dtype=np.uint32)
    ctr[..., 0] = index
    ctr[..., 1] = step
    ctr[..., 2] = phase
    ctr[..., 3] = sub
    return philox4x32_10(ctr, np.array(key, dtype=np.uint32))


def mulhi(word, k) -> np.ndarray:
    """Uniform choice among k options from a uint32 word: (word * k) >> 32."""
    return ((np.asarray(word, np.uint64) * np.asarray(k, np.uint64)) >> _32).astype(np.uint32)
