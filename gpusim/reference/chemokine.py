"""The float32 arithmetic of the diffusing fields in NumPy (twin of
field.cuh and kernels/field.cu; the step is gpusim.reference.diffusion):
explicit diffusion substeps (von Neumann stencil, zero flux at a closed
boundary), with the kernels' operation order and their floor (every product and stored value below 2**CHEM_FLOOR_EXP is 0:
field.cuh ``chem_floor``), so no subnormal number is ever made.

>>> chem_floor(np.array([1e-31, -1e-31, 1e-29, 0.5], dtype=np.float32)).tolist()
[0.0, 0.0, 1.0000000031710769e-29, 0.5]
"""

from __future__ import annotations

import numpy as np

from ..abi import constants

CHEM_FLOOR = np.float32(2.0 ** constants()["CHEM_FLOOR_EXP"])


def chem_floor(x: np.ndarray) -> np.ndarray:
    """+0 where |x| < CHEM_FLOOR (twin of field.cuh ``chem_floor``)."""
    x = np.asarray(x, dtype=np.float32)
    return np.where((x < CHEM_FLOOR) & (x > -CHEM_FLOOR), np.float32(0), x)


def diffuse(c: np.ndarray, alpha: np.float32, stencil) -> np.ndarray:
    """One explicit substep: floor(c + floor(alpha * sum over neighbours of (c_j - c)))."""
    lap = np.zeros_like(c)
    for idx, valid in stencil:
        lap = np.where(valid, lap + (c[idx] - c), lap)
    return chem_floor(c + chem_floor(alpha * lap))
