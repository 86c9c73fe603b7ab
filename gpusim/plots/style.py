"""Colours shared by the snapshot, Muller plot and movie, so a clone has the
same colour everywhere.

Ordinary clones get muted greens, yellows and browns from a hash of their
id; escape clones stand out in saturated families -- PD-L1 high red, HLA
lost purple, both magenta -- with the same hashed lightness, so subclones of
an escaped clone stay distinguishable.  T cells are drawn in blue on top.

>>> colours = clone_colours(np.array([0, 1, 1, 2]))
>>> colours.shape, colours[0].tolist() == list(EMPTY), family(colours[2]), family(colours[3])
((4, 4), True, 'PD-L1 high', 'HLA lost')
"""

from __future__ import annotations

import colorsys

import numpy as np

from ..analysis.spatial import NOT_EVALUABLE
from ..components import COLOURS
from ..state import CLONE_HLA, CLONE_PDL1

EMPTY = (1.0, 1.0, 1.0, 1.0)
UNKNOWN = (0.6, 0.6, 0.6, 1.0)  # a clone id missing from the table (run killed after its checkpoint)
TCELL = COLOURS["tcells"]  # the T-cell component's colour

#: Immune phenotypes: hot, altered-excluded, cold (Galon & Bruni 2019, Nat Rev Drug Discov 18:197);
#: grey where there was no tumour core to classify.
PHENOTYPE_COLOURS = {"inflamed": "#d73027", "excluded": "#fc8d59", "desert": "#4575b4", NOT_EVALUABLE: "#d9d9d9"}
#: Tumour regions of gpusim.analysis.spatial (outside, margin, core), drawn under the cells.
REGION_COLOURS = ((1.0, 1.0, 1.0, 1.0), (0.99, 0.85, 0.62, 1.0), (0.82, 0.78, 0.90, 1.0))


# (hue, saturation, lightness range) of each family; ordinary clones spread their hue.
_FAMILIES = {"ordinary": ((0.08, 0.43), 0.45, (0.55, 0.80)), "PD-L1 high": ((0.995, 0.995), 0.85, (0.38, 0.58)),
             "HLA lost": ((0.78, 0.78), 0.75, (0.30, 0.50)), "both": ((0.87, 0.87), 0.90, (0.40, 0.60))}


#: Legend entries of the clone families, in the order a legend lists them.
FAMILY_LABELS = {"ordinary": "clones (no escape)", "PD-L1 high": "PD-L1 high", "HLA lost": "HLA lost",
                 "both": "PD-L1 high + HLA lost"}


def family_colour(kind: str) -> tuple[float, float, float, float]:
    """The colour a legend shows for a clone family: its hue at mid lightness.

    >>> family(family_colour("both")), family(family_colour("HLA lost"))
    ('both', 'HLA lost')
    """
    (h0, h1), sat, (l0, l1) = _FAMILIES[kind]
    return (*colorsys.hls_to_rgb((h0 + h1) / 2, (l0 + l1) / 2, sat), 1.0)


def flag_names(flags: int) -> str:
    """``"PD-L1 high"``, ``"HLA lost"``, both joined by ``+``, or ``""``."""
    names = [name for bit, name in ((CLONE_PDL1, "PD-L1 high"), (CLONE_HLA, "HLA lost")) if flags & bit]
    return " + ".join(names)


def flag_family(flags: int) -> str:
    """The family (a key of the legends) of a clone with ``flags``."""
    pdl1, hla = bool(flags & CLONE_PDL1), bool(flags & CLONE_HLA)
    return "both" if pdl1 and hla else "PD-L1 high" if pdl1 else "HLA lost" if hla else "ordinary"


#: Ordinary clones in a Muller plot (a few bands side by side, each with a key
#: entry): hues from orange through yellow and green to teal, lightness
#: alternating, so neighbours in the key never look alike.
_BAND_HUES, _BAND_LIGHTNESS = (0.06, 0.52), (0.68, 0.42)


def band_colours(flags: list[int]) -> np.ndarray:
    """RGBA per Muller band (``flags`` of each kept clone, in key order):
    distinct colours within each family, every family in its own hues.
    (The lattice keeps :func:`clone_colours`, hashed from the clone id, for
    its hundreds of clones; a key of ten bands needs colours told apart.)

    >>> c = band_colours([0, 0, 0, 1, 1])
    >>> [family(x) for x in c], len({tuple(np.round(x, 3)) for x in c})
    (['ordinary', 'ordinary', 'ordinary', 'PD-L1 high', 'PD-L1 high'], 5)
    """
    kinds = [flag_family(int(f)) for f in flags]
    out = np.empty((len(kinds), 4))
    out[:, 3] = 1.0
    for kind in dict.fromkeys(kinds):
        idx = [i for i, k in enumerate(kinds) if k == kind]
        (h0, h1), sat, (l0, l1) = _FAMILIES[kind]
        for j, i in enumerate(idx):
            u = j / max(len(idx) - 1, 1)
            if kind == "ordinary":
                hue, light = _BAND_HUES[0] + (_BAND_HUES[1] - _BAND_HUES[0]) * u, _BAND_LIGHTNESS[j % 2]
                out[i, :3] = colorsys.hls_to_rgb(hue, light, 0.5)
            else:  # one hue: lightness spread over the family's range
                out[i, :3] = colorsys.hls_to_rgb(h0, l0 + (l1 - l0) * u, sat)
    return out


def clone_colours(flags: np.ndarray) -> np.ndarray:
    """RGBA (n, 4) for clone ids 0..n-1 given their flags (row 0 = empty)."""
    flags = np.asarray(flags)
    ids = np.arange(len(flags), dtype=np.uint64)
    h = ((ids * np.uint64(2654435761)) % np.uint64(2**32)).astype(np.float64) / 2**32
    pdl1, hla = (flags & CLONE_PDL1) != 0, (flags & CLONE_HLA) != 0
    kind = np.where(pdl1 & hla, "both", np.where(pdl1, "PD-L1 high", np.where(hla, "HLA lost", "ordinary")))
    out = np.empty((len(flags), 4))
    for i, (k, u) in enumerate(zip(kind, h)):
        (h0, h1), sat, (l0, l1) = _FAMILIES[k]
        out[i, :3] = colorsys.hls_to_rgb(h0 + (h1 - h0) * u, l0 + (l1 - l0) * ((u * 7) % 1.0), sat)
    out[:, 3] = 1.0
    if len(out):
        out[0] = EMPTY
    return out


def family(rgba) -> str:
    """Which colour family an RGBA colour of :func:`clone_colours` belongs to."""
    hue, _, sat = colorsys.rgb_to_hls(*rgba[:3])
    if sat < 0.6:
        return "ordinary"
    return min(("PD-L1 high", "HLA lost", "both"),
               key=lambda k: min(abs(hue - _FAMILIES[k][0][0]), 1 - abs(hue - _FAMILIES[k][0][0])))


def colour_image(ids: np.ndarray, table: np.ndarray) -> np.ndarray:
    """RGBA image of clone ids through a colour table; ids beyond it in grey."""
    ids = np.asarray(ids, dtype=np.int64)
    img = np.empty((*ids.shape, 4))
    known = ids < len(table)
    img[known] = table[ids[known]]
    img[~known] = UNKNOWN
    return img


def legend_below(ax, handles, labels=None, ncols: int = 2, fontsize: float = 7) -> None:
    """The panel's legend under its x-axis label, never over its data.

    >>> from matplotlib.figure import Figure
    >>> ax = Figure().subplots()
    >>> legend_below(ax, ax.plot([0, 1], label="a"))
    >>> ax.get_legend().get_bbox_to_anchor() is not None
    True
    """
    kw = {} if labels is None else {"labels": labels}
    ax.legend(handles=handles, **kw, fontsize=fontsize, loc="upper center", ncols=ncols,
              bbox_to_anchor=(0.5, -0.14))


def frame_step(t) -> float:
    """The shortest interval between the frames' days ``t`` (1 for one frame)."""
    return float(np.diff(t).min()) if len(t) > 1 else 1.0


def time_limits(ax, t) -> None:
    """One x range for every panel over the frames' days ``t``: from half a
    frame interval before the first to half after the last (the phenotype
    strip's spans), so panels of one figure end on the same day."""
    ax.set_xlim(float(t[0]) - frame_step(t) / 2, float(t[-1]) + frame_step(t) / 2)

