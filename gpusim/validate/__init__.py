"""``gpusim validate``: reproduce published results and write
DIR/validation.md, one section per result (literature, gpusim's numbers and
figure, pass or fail against a stated criterion).  ``--quick`` runs smaller
cohorts (CI, a few minutes on 2 cores); the full run is docs/validation.md.

>>> from gpusim.validate import SECTIONS
>>> [name for name, _ in SECTIONS][:3]
['poisson', 'walk', 'heat']
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from . import immunity, microenvironment, myeloid, pharmacology, reinvigoration, rules, vaf

#: (name, function(out_dir, quick, processes) -> Section), in report order.
SECTIONS = [
    ("poisson", lambda out, quick, n: rules.poisson_section(out, quick)),
    ("walk", lambda out, quick, n: rules.walk_section(out, quick)),
    ("heat", lambda out, quick, n: rules.heat_section(out, quick)),
    ("vaf", lambda out, quick, n: vaf.vaf_section(out, quick)),
    ("three_es", immunity.three_es_section),
    ("immunoediting", immunity.immunoediting_section),
    ("tmb", immunity.tmb_section),
    ("reinvigoration", reinvigoration.reinvigoration_section),
    ("pd1_occupancy", pharmacology.pd1_occupancy_section),
    ("blockade_persistence", pharmacology.blockade_persistence_section),
    ("virtual_trial", pharmacology.virtual_trial_section),
    ("myeloid", myeloid.myeloid_section),
    ("adaptive_resistance", microenvironment.adaptive_resistance_section),
    ("hypoxia", microenvironment.hypoxia_section),
    ("tregs", microenvironment.tregs_section),
]


def run_validation(out: str | Path, quick: bool = False, processes: int | None = None,
                   only: list[str] | None = None) -> bool:
    """Run every section (or those named in ``only``), write
    ``out/validation.md`` and its figures; True when every criterion holds."""
    import matplotlib

    matplotlib.use("Agg")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    processes = processes or len(os.sched_getaffinity(0))
    sections, start = [], time.time()
    for name, fn in SECTIONS:
        if only and name not in only:
            continue
        t0 = time.time()
        section = fn(out, quick, processes)
        section.numbers.append(f"wall time {time.time() - t0:.0f} s")
        sections.append(section)
        print(f"{'PASS' if section.passed else 'FAIL'}  {section.title} ({time.time() - t0:.0f} s)", flush=True)
    wall = time.time() - start
    from ..hostinfo import describe_host

    head = [f"# gpusim validation{' (--quick)' if quick else ''}", "",
            f"{sum(s.passed for s in sections)} of {len(sections)} criteria hold. Wall time {wall:.0f} s on "
            f"{describe_host()}, {processes} worker process(es), cpu backend. Regenerate with "
            f"`gpusim validate{' --quick' if quick else ''} -o DIR`.", ""]
    head += [f"- [{'x' if s.passed else ' '}] {s.title}" for s in sections]
    (out / "validation.md").write_text("\n".join(head) + "\n\n" + "\n".join(s.markdown() for s in sections))
    return all(s.passed for s in sections)
