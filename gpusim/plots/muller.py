"""Muller plot of the largest clones: each clone's band holds its own cells
and its descendants', drawn inside its parent's band.

Per-frame populations come from the ``tumour_clone`` frames (``np.bincount``).
The ``top`` clones with the largest peak population are kept (the founder
always); every other clone is counted with its nearest kept ancestor.
"""

from __future__ import annotations

import numpy as np

from .style import band_colours, flag_names


def muller_data(run, top: int = 10) -> tuple[np.ndarray, list[int], np.ndarray, np.ndarray]:
    """(times, kept clone ids in drawing order, parent of each kept clone
    (index into the kept list, -1 for the root), counts[frame, kept] of own +
    grouped cells)."""
    frames = run.frames("tumour_clone")
    parent = run.clones["parent"].to_numpy().astype(np.int64)
    n = len(parent)
    counts = np.zeros((len(frames), n), dtype=np.int64)
    for k in range(len(frames)):
        ids = frames[k].ravel()
        ids = ids[(ids > 0) & (ids < n)]
        counts[k] = np.bincount(ids, minlength=n)
    peak = counts.max(axis=0) if len(frames) else np.zeros(n, np.int64)
    peak[0] = 0
    largest = [c for c in np.argsort(-peak, kind="stable").tolist() if peak[c] > 0 and c != 1]
    keep = set(largest[: max(top - 1, 0)]) | ({1} if n > 1 else set())
    rep = np.arange(n)  # nearest kept ancestor of every clone
    kept = np.zeros(n, bool)
    kept[list(keep)] = True
    kept[0] = True
    while not kept[rep].all():
        move = ~kept[rep]
        rep[move] = parent[rep[move]]
    grouped = np.zeros_like(counts)
    for k in range(len(frames)):
        grouped[k] = np.bincount(rep, weights=counts[k], minlength=n).astype(np.int64)
    # Depth-first order of the kept tree, so each band nests in its parent.
    children: dict[int, list[int]] = {}
    for c in sorted(keep):
        p = int(rep[parent[c]])  # the founder's parent is row 0, the root
        children.setdefault(p, []).append(c)
    order, parents = [], []
    stack = [(c, -1) for c in reversed(children.get(0, []))]
    while stack:
        c, p = stack.pop()
        parents.append(p)
        order.append(c)
        stack += [(ch, len(order) - 1) for ch in reversed(children.get(c, []))]
    return frames.times, order, np.array(parents, dtype=np.int64), grouped[:, order]


def draw_muller(ax, run, top: int = 10) -> None:
    times, order, parents, own = muller_data(run, top)
    ax.set_title(f"Muller plot, {len(order)} largest clones")
    ax.set_xlabel("time (days)")
    ax.set_ylabel("fraction of tumour cells")
    if len(times) < 2 or not order:
        ax.text(0.5, 0.5, "needs two or more frames", ha="center", va="center", transform=ax.transAxes)
        return
    total = own.sum(axis=1).astype(float)
    alive = total > 0  # after elimination there is no fraction to show: no band, no line at 0.5
    total[~alive] = 1.0
    sub = own.astype(float).copy()  # subtree sizes: children are after their parents in DFS order
    for i in range(len(order) - 1, -1, -1):
        if parents[i] >= 0:
            sub[:, parents[i]] += sub[:, i]
    lo = np.zeros_like(sub)
    lo[:, 0] = (total - sub[:, 0]) / 2
    cursor = {}
    for i in range(len(order)):
        p = parents[i]
        if p >= 0:  # children stacked from the middle of the parent's own cells
            start = cursor.get(p, lo[:, p] + own[:, p] / 2)
            lo[:, i] = start
            cursor[p] = start + sub[:, i]
    flags = run.clones["flags"].to_numpy() if "flags" in run.clones else np.zeros(len(run.clones), np.uint8)
    colours = band_colours([int(flags[c]) for c in order])  # distinct within each family; the key matches
    r = run.clones["r"].to_numpy() if "r" in run.clones else np.zeros(len(run.clones))
    for i, c in enumerate(order):  # parents first, children painted over them
        ax.fill_between(times, lo[:, i] / total, (lo[:, i] + sub[:, i]) / total, where=alive & (sub[:, i] > 0),
                        facecolor=colours[i],
                        edgecolor="white", lw=0.4, label=clone_label(c, r[c], int(flags[c])))
    if not alive[-1]:  # eliminated: from the first frame after the last tumour cell
        gone = times[np.flatnonzero(alive)[-1]] if alive.any() else times[0]
        ax.axvspan(gone, times[-1], color="0.93", lw=0)
        ax.text((gone + times[-1]) / 2, 0.5, "no tumour\ncells", ha="center", va="center", fontsize=7, color="0.4")
    ax.set_xlim(times[0], times[-1])
    ax.set_ylim(0, 1)
    # The key: every kept clone, in drawing order (a child follows its parent).
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, frameon=False, handlelength=1.2,
              title="clone: r, escape", title_fontsize=7)


def clone_label(clone: int, r: float, flags: int) -> str:
    """``"12: r 0.31, PD-L1 high"`` -- a Muller band's key entry.

    Recognition with the digits it needs: quickstart clones have r of a
    few thousandths, not 0.00.

    >>> clone_label(12, 0.3141, 1), clone_label(1, 0.0, 0), clone_label(29, 0.004567, 0)
    ('12: r 0.31, PD-L1 high', '1: r 0', '29: r 0.0046')
    """
    escape = flag_names(flags)
    shown = "0" if r == 0 else f"{r:.2f}" if r >= 0.1 else f"{r:.2g}"
    return f"{clone}: r {shown}" + (f", {escape}" if escape else "")
