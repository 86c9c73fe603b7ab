"""One row per run, read from the run files: ``DIR/summary.h5`` and the
``gpusim summarize DIR`` report.

``summary.h5`` is a pandas table under key ``"runs"``::

    import pandas
    runs = pandas.read_hdf("DIR/summary.h5")            # key "runs"
    runs.groupby("arm")["tumour_change"].median()

Columns: ``run_id``, ``index``, ``arm``, ``replicate``, ``seed``, one column
per swept parameter (named by its dotted key), ``status`` (complete, failed,
running, interrupted, missing, unreadable), ``outcome`` and ``response``
(the run file's attributes, ``-`` where absent), ``days`` (simulated),
``tumour_cells_initial``, ``tumour_cells_final``, ``tumour_cells_max``,
``therapy_start_day`` (the arm's first therapy day; for an arm without
therapy, the sweep's earliest, so that every arm is measured over the same
window), ``tumour_cells_at_therapy_start``, ``tumour_change`` (relative
change from therapy start to the response evaluation day, RECIST-like:
-0.3 is a 30 % shrinkage; the run file's own ``tumour_change`` where it has
one (runs with therapy), else computed by the same rule; NaN where the
tumour was gone at the start),
``tcells_final`` (NaN where the run has no ``tcells`` observable),
``phenotype`` (immune phenotype of the last frame: inflamed, excluded,
desert, no_core; ``-`` without frames) with ``tcell_density_core_per_mm2`` and
``tcell_density_margin_per_mm2`` (gpusim.analysis.spatial; the run file's
``/analysis`` where stored) and ``runtime_s``.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..config import toml_value
from .spatial import PHENOTYPES
from ..errors import InputError
from ..io.reader import read_config
from ..outcome import OUTCOMES, RESPONSES, tumour_change
from ..therapy import therapy_start_day
from ..sweepdir import store

MISSING = "-"


def _attr(f, name: str) -> str:
    value = f.attrs.get(name, MISSING)
    return value.decode() if isinstance(value, bytes) else str(value)


def _series(f, name: str) -> tuple[np.ndarray, np.ndarray] | None:
    group = f.get(f"observables/{name}")
    if group is None or "value" not in group or "time" not in group:
        return None
    return group["time"][()], group["value"][()]


def _therapy_window(f) -> tuple[float | None, float | None]:
    """(first therapy day or None, response evaluation day or None) from a
    run file's resolved config (both None when it has none or a bad one)."""
    try:
        cfg = read_config(f)
    except InputError:
        return None, None
    return therapy_start_day(cfg), cfg.outcome.response_evaluation_day


def read_run(path: Path) -> dict[str, Any]:
    """Metrics of one run file (complete or not); NaN where there is nothing."""
    import h5py

    row: dict[str, Any] = {"status": store.run_status(path), "outcome": MISSING, "response": MISSING,
                           "days": math.nan, "tumour_cells_initial": math.nan, "tumour_cells_final": math.nan,
                           "tumour_cells_max": math.nan, "tcells_final": math.nan, "runtime_s": math.nan,
                           "phenotype": MISSING, "tcell_density_core_per_mm2": math.nan,
                           "tcell_density_margin_per_mm2": math.nan,
                           "_therapy_start": None, "_evaluation_day": None, "_tumour": None, "_change": None}
    if row["status"] in ("missing", "unreadable"):
        return row
    with h5py.File(path, "r") as f:
        row["outcome"], row["response"] = _attr(f, "outcome"), _attr(f, "response")
        row["runtime_s"] = float(f.attrs.get("runtime_s", math.nan))
        row["_change"] = float(f.attrs["tumour_change"]) if "tumour_change" in f.attrs else None
        row["_therapy_start"], row["_evaluation_day"] = _therapy_window(f)
        tumour = _series(f, "tumour_cells")
        if tumour is not None and len(tumour[1]):
            t, n = tumour
            row.update(days=float(t[-1]), tumour_cells_initial=float(n[0]), tumour_cells_final=float(n[-1]),
                       tumour_cells_max=float(n.max()), _tumour=tumour)
        tcells = _series(f, "tcells")
        if tcells is not None and len(tcells[1]):
            row["tcells_final"] = float(tcells[1][-1])
    row.update(_end_state(path))
    return row


def _end_state(path: Path) -> dict[str, Any]:
    """Immune phenotype and T-cell densities of the run's last frame."""
    from .analyse import end_state

    try:
        return end_state(path) or {}
    except InputError:  # a damaged frame: the status column already tells
        return {}


def _param_column(value: Any) -> Any:
    # HDF5 tables hold scalars: a swept list (say lattice.shape) becomes its TOML text.
    if isinstance(value, (list, tuple, dict)):
        return toml_value(value)
    return value


def collect(out_dir: str | Path):
    """The summary table of a sweep directory, rebuilt from its run files."""
    import pandas as pd

    out_dir = Path(out_dir)
    header, runs = store.load_runs(out_dir)
    keys = [p["key"] for p in header["params"]]
    rows = []
    for run in runs:
        path = store.run_path(out_dir, run.id)
        if not path.exists() and store.part_path(path).exists():
            path = store.part_path(path)  # a failed or killed run: report its status
        metrics = read_run(path)
        rows.append({"run_id": run.id, "index": run.index, "arm": run.arm, "replicate": run.replicate,
                     "seed": np.uint64(run.seed), **{k: _param_column(run.params[k]) for k in keys}, **metrics})
    starts = [r["_therapy_start"] for r in rows if r["_therapy_start"] is not None]
    common_start = min(starts) if starts else 0.0
    for r in rows:
        start = r.pop("_therapy_start")
        start = common_start if start is None else start
        evaluation = r.pop("_evaluation_day")
        tumour, own = r.pop("_tumour"), r.pop("_change")
        r["therapy_start_day"] = start
        r["tumour_cells_at_therapy_start"] = r["tumour_change"] = math.nan
        if tumour is not None:  # by gpusim.outcome's rule, for arms without therapy too
            base, _, change = tumour_change(*tumour, start, evaluation)
            r["tumour_cells_at_therapy_start"] = float(base)
            r["tumour_change"] = change
        if own is not None:  # the run's own figure (runs with therapy) is the reference
            r["tumour_change"] = own
    columns = ["run_id", "index", "arm", "replicate", "seed", *keys, "status", "outcome", "response", "days",
               "tumour_cells_initial", "tumour_cells_final", "tumour_cells_max", "therapy_start_day",
               "tumour_cells_at_therapy_start", "tumour_change", "tcells_final", "phenotype",
               "tcell_density_core_per_mm2", "tcell_density_margin_per_mm2", "runtime_s"]
    df = pd.DataFrame(rows, columns=columns)
    df["seed"] = df["seed"].astype(np.uint64)
    return df


def write_summary(out_dir: str | Path) -> Path:
    """Rebuild ``DIR/summary.h5`` from the run files (written whole, then renamed)."""
    out_dir = Path(out_dir)
    df = collect(out_dir)
    target = out_dir / "summary.h5"
    tmp = out_dir / f".summary.h5.tmp{os.getpid()}"
    df.to_hdf(tmp, key="runs", format="table", mode="w")
    os.replace(tmp, target)
    return target


def parameter_bins(values, max_distinct: int = 6):
    """Distinct values when there are few (a grid axis), else 4 quantile bins."""
    import pandas as pd

    if values.nunique() <= max_distinct or not np.issubdtype(values.dtype, np.number):
        return values.map(lambda v: f"{v:.4g}" if isinstance(v, float) else str(v))
    return pd.qcut(values, 4, duplicates="drop").astype(str)


def _rates_table(df, by, responses, label: str) -> list[str]:
    groups = df.groupby(by, sort=False, observed=True)
    head = [label, "runs", "complete"] + [f"{o}%" for o in OUTCOMES] + ["outcome?"] \
        + [f"{r}%" for r in RESPONSES] + ["median change"] + [f"{p}%" for p in PHENOTYPES]
    rows = [head]
    for name, g in groups:
        done = g[g["status"] == "complete"]
        known = int(done["outcome"].isin(OUTCOMES).sum())
        outs = [f"{100 * (done['outcome'] == o).sum() / known:.0f}" if known else "-" for o in OUTCOMES]
        unknown = str(len(done) - known)
        resp = responses.loc[done.index]
        rn = int(resp.isin(RESPONSES).sum())
        rs = [f"{100 * (resp == r).sum() / rn:.0f}" if rn else "-" for r in RESPONSES]
        change = done["tumour_change"].median()
        pheno = done["phenotype"]
        pn = int(pheno.isin(PHENOTYPES).sum())
        ps = [f"{100 * (pheno == p).sum() / pn:.0f}" if pn else "-" for p in PHENOTYPES]
        name = ", ".join(map(str, name)) if isinstance(name, tuple) else str(name)
        rows.append([name, str(len(g)), str(len(done)), *outs, unknown, *rs,
                     "-" if math.isnan(change) else f"{100 * change:+.0f}%", *ps])
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    return ["  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))) for r in rows]


def summarize_dir(path: str | Path) -> str:
    """Outcome and response rates per arm and per parameter bin, as text.

    Rates are percentages of the complete runs whose outcome (response) is
    known; ``outcome?`` counts complete runs whose file has no outcome
    attribute, and ``-`` stands for a rate over no run.  Parameter rows are
    in ascending order of the parameter, labelled ``value`` or ``value, arm``.
    """
    out_dir = Path(path)
    header, _ = store.load_runs(out_dir)
    df = collect(out_dir)
    responses = df["response"]
    counts = df["status"].value_counts()
    state = ", ".join(f"{n} {s}" for s, n in counts.items())
    lines = [f"sweep {out_dir}: {len(df)} runs ({state}); sweep seed {header['sweep_seed']}; "
             f"spec {header['spec_file']}",
             "outcome and response: the run files' attributes (response only where an arm has therapy); "
             "change = tumour cells from therapy start to evaluation; inflamed/excluded/desert: immune phenotype "
             "of the last frame, % of runs with a tumour core there",
             "rates: % of the complete runs with a known outcome (response, phenotype); outcome?: complete runs "
             "whose file has no outcome attribute (written by an older gpusim); -: a rate over no run", "",
             "per arm:", *("  " + line for line in _rates_table(df, "arm", responses, "arm"))]
    arm_order = {arm: i for i, arm in enumerate(dict.fromkeys(df["arm"]))}  # the spec's order
    for key in [p["key"] for p in header["params"]]:
        # Rows in ascending parameter order (then arms in spec order): sort the runs, group in that order.
        ordered = df.assign(_bin=parameter_bins(df[key]), _arm=df["arm"].map(arm_order)) \
            .sort_values([key, "_arm"], kind="stable")
        lines += ["", f"per {key} (all arms):",
                  *("  " + line for line in _rates_table(ordered, "_bin", responses, "value"))]
        if df["arm"].nunique() > 1:
            lines += [f"per {key} and arm:", *("  " + line for line in
                                              _rates_table(ordered, ["_bin", "arm"], responses, "value, arm"))]
    failed = df[df["status"] != "complete"]
    if len(failed):
        lines += ["", f"not complete ({len(failed)}): " + ", ".join(f"{r.run_id} ({r.status})" for r in failed.itertuples())
                  + " -- rerun the same gpusim sweep command to finish them"]
    return "\n".join(lines)
