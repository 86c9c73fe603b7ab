"""Text tables of the sweep commands (``summarize``, ``sweep --dry-run``)
that fit a terminal or a Slurm log of :data:`TEXT_WIDTH` columns."""

from __future__ import annotations

#: Text tables fit a terminal (and a log) of this many columns.
TEXT_WIDTH = 100


def fit_columns(rows: list[list[str]], width: int = TEXT_WIDTH - 4) -> list[str]:
    """Rows of cells as aligned lines (first column left, the rest right),
    split into blocks of columns that fit ``width``, each block repeating
    the first column.

    >>> fit_columns([["arm", "a", "b"], ["x", "1", "22"]], width=8)
    ['arm  a', 'x    1', '', 'arm   b', 'x    22']
    """
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    blocks, block = [], []
    for i in range(1, len(widths)):
        if block and widths[0] + sum(widths[j] + 2 for j in block) + widths[i] + 2 > width:
            blocks.append(block)
            block = []
        block.append(i)
    blocks.append(block)
    lines: list[str] = []
    for b in blocks:
        if lines:
            lines.append("")
        lines += ["  ".join([r[0].ljust(widths[0]), *(r[j].rjust(widths[j]) for j in b)]) for r in rows]
    return lines
