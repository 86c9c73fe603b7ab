"""Colours shared by the snapshot, Muller plot and movie, so a clone has the
same colour everywhere.

Ordinary clones get muted greens, yellows and browns from a hash of their
id; escape clones stand out: PD-L1 high in red, HLA lost in purple, both in
magenta.  T cells are drawn in blue on top.

>>> colours = clone_colours(np.array([0, 1, 1, 2]))
>>> colours.shape, colours[0].tolist() == list(EMPTY), colours[2].tolist() == list(PDL1)
((4, 4), True, True)
"""

from __future__ import annotations

import colorsys

import numpy as np

from ..state import CLONE_HLA, CLONE_PDL1

EMPTY = (1.0, 1.0, 1.0, 1.0)
UNKNOWN = (0.6, 0.6, 0.6, 1.0)  # a clone id missing from the table (run killed after its checkpoint)
PDL1 = (0.84, 0.15, 0.16, 1.0)
HLA = (0.42, 0.0, 0.66, 1.0)
BOTH = (0.85, 0.0, 0.75, 1.0)
TCELL = "#1f5fd0"
OTHER = (0.8, 0.8, 0.8, 1.0)

THERAPY_COLOURS = {
    "checkpoint_blockade": "tab:purple",
    "vaccine": "tab:green",
    "adoptive_transfer": "tab:blue",
    "chemotherapy": "tab:red",
}


def clone_colours(flags: np.ndarray) -> np.ndarray:
    """RGBA (n, 4) for clone ids 0..n-1 given their flags (row 0 = empty)."""
    flags = np.asarray(flags)
    ids = np.arange(len(flags), dtype=np.uint64)
    h = ((ids * np.uint64(2654435761)) % np.uint64(2**32)).astype(np.float64) / 2**32
    hue = 0.08 + 0.35 * h  # orange .. green
    light = 0.55 + 0.25 * ((h * 7) % 1.0)
    out = np.array([colorsys.hls_to_rgb(a, b, 0.45) + (1.0,) for a, b in zip(hue, light)]).reshape(-1, 4)
    pdl1, hla = (flags & CLONE_PDL1) != 0, (flags & CLONE_HLA) != 0
    out[pdl1 & ~hla] = PDL1
    out[hla & ~pdl1] = HLA
    out[pdl1 & hla] = BOTH
    if len(out):
        out[0] = EMPTY
    return out


def colour_image(ids: np.ndarray, table: np.ndarray) -> np.ndarray:
    """RGBA image of clone ids through a colour table; ids beyond it in grey."""
    ids = np.asarray(ids, dtype=np.int64)
    img = np.empty((*ids.shape, 4))
    known = ids < len(table)
    img[known] = table[ids[known]]
    img[~known] = UNKNOWN
    return img
