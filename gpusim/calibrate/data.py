"""Calibration targets: one tidy table (CSV or Parquet), one row per datum.

=========  ============================================================
column     meaning
=========  ============================================================
arm        the spec's arm name (``base`` when the spec has no arms)
time       days since the start of the run (a response's evaluation day)
quantity   what was measured (below)
value      the measurement (finite)
sd         optional: its standard deviation (> 0), the residual's scale
n          optional: patients behind a rate (integer >= 1; informative)
=========  ============================================================

Quantities, each the mean over a particle's simulated patients of an arm:

* any observable of a run (``tumour_cells``, ``tcells``, ``pdl1_cells``,
  ...; README "The run file"), at the last recorded step at or before
  ``time``;
* ``response_rate``: the fraction of patients with CR or PR (RECIST-like,
  gpusim.outcome) from the arm's therapy start to ``time``;
* ``phenotype_inflamed``, ``phenotype_excluded``, ``phenotype_desert``,
  ``phenotype_no_core``: the fraction of patients with that immune
  phenotype at ``time`` (gpusim.analysis.spatial);
* any numeric spatial statistic of gpusim analyse (``tcell_density_core_per_mm2``,
  ``tcell_density_margin_per_mm2``, ``tumour_radius_um``, ...) at ``time``.

The residual of a row is (simulated - value) / scale with scale = ``sd``
when given, else |value| (a relative error; 1 where the value is 0).

Every bad row is named: the error is one line giving the first bad row and
why, and how many others are bad.

>>> import pandas as pd
>>> table = pd.DataFrame({"arm": ["base", "base"], "time": [5.0, -1.0], "quantity": ["tumour_cells", "tcells"],
...                       "value": [120.0, 3.0]})
>>> read_data(table, ["base"], 30.0, 2)
Traceback (most recent call last):
...
gpusim.errors.InputError: data: row 2: time -1.0 is not in [0, 30] days
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..errors import InputError

REQUIRED = ("arm", "time", "quantity", "value")
OPTIONAL = ("sd", "n")
PHENOTYPE_PREFIX = "phenotype_"


def quantities(dim: int) -> dict[str, str]:
    """Every quantity a data row may name -> its kind (observable, response,
    phenotype, spatial)."""
    from ..analysis.spatial import NOT_EVALUABLE, PHENOTYPES, columns
    from ..observables import OBSERVABLES

    out = {name: "spatial" for name in columns(dim) if name != "phenotype"}
    out.update({name: "observable" for name in OBSERVABLES})
    out["response_rate"] = "response"
    out.update({PHENOTYPE_PREFIX + p: "phenotype" for p in (*PHENOTYPES, NOT_EVALUABLE)})
    return out


def load_data(path: str | Path, arms: list[str], days: float, dim: int):
    """Read and check the table at ``path`` (.csv or .parquet)."""
    import pandas as pd

    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    try:
        table = pd.read_parquet(path) if path.suffix.lower() in (".parquet", ".pq") else pd.read_csv(path)
    except Exception as err:  # parser errors come in many types
        raise InputError(f"{path}: cannot read the data table: {err.__class__.__name__}: "
                         f"{str(err).strip().splitlines()[0] if str(err).strip() else ''}") from None
    return read_data(table, arms, days, dim, where=str(path))


def read_data(table, arms: list[str], days: float, dim: int, where: str = "data"):
    """The table with its rows checked: one line naming the first bad row
    (and how many more there are)."""
    missing = [c for c in REQUIRED if c not in table]
    if missing:
        raise InputError(f"{where}: missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
                         f"(a data table has {', '.join(REQUIRED)}[, {', '.join(OPTIONAL)}])")
    extra = [c for c in table.columns if c not in REQUIRED + OPTIONAL]
    if extra:
        raise InputError(f"{where}: unknown column {extra[0]!r} (a data table has {', '.join(REQUIRED + OPTIONAL)})")
    if not len(table):
        raise InputError(f"{where}: no rows")
    known = quantities(dim)
    bad: list[str] = []
    seen: dict[tuple, int] = {}
    for i, row in enumerate(table.to_dict("records")):
        why = _row_problem(row, arms, days, known)
        key = (str(row["arm"]), _float(row["time"]), str(row["quantity"]))
        if why is None and key in seen:
            why = f"repeats row {seen[key] + 1} ({key[0]}, day {key[1]:g}, {key[2]})"
        seen.setdefault(key, i)
        if why is not None:
            bad.append(f"row {i + 1}: {why}")
    if bad:
        more = f" (and {len(bad) - 1} more bad rows: {', '.join(b.split(':')[0] for b in bad[1:6])}" \
               f"{', ...' if len(bad) > 6 else ''})" if len(bad) > 1 else ""
        raise InputError(f"{where}: {bad[0]}{more}")
    out = table.copy()
    out["arm"] = out["arm"].astype(str)
    out["quantity"] = out["quantity"].astype(str)
    out["time"] = out["time"].astype(np.float64)
    out["value"] = out["value"].astype(np.float64)
    return out.reset_index(drop=True)


def _float(v) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


def _row_problem(row: dict, arms: list[str], days: float, known: dict) -> str | None:
    arm, quantity = row["arm"], row["quantity"]
    if not isinstance(arm, str) or arm not in arms:
        return f"arm {arm!r} is not one of the spec's arms ({', '.join(arms)})"
    if not isinstance(quantity, str) or quantity not in known:
        return f"unknown quantity {quantity!r} (observables, response_rate, phenotype_*, spatial statistics)"
    time, value = _float(row["time"]), _float(row["value"])
    if not math.isfinite(time) or not 0 <= time <= days:
        return f"time {row['time']!r} is not in [0, {days:g}] days"
    if not math.isfinite(value):
        return f"value {row['value']!r} is not a finite number"
    if known[quantity] in ("response", "phenotype") and not 0 <= value <= 1:
        return f"{quantity} {value:g} is a fraction: it must be in [0, 1]"
    if "sd" in row and row["sd"] is not None and not (isinstance(row["sd"], float) and math.isnan(row["sd"])):
        sd = _float(row["sd"])
        if not math.isfinite(sd) or sd <= 0:
            return f"sd {row['sd']!r} must be a positive number (or empty)"
    if "n" in row and row["n"] is not None and not (isinstance(row["n"], float) and math.isnan(row["n"])):
        n = _float(row["n"])
        if not math.isfinite(n) or n < 1 or n != int(n):
            return f"n {row['n']!r} must be an integer >= 1 (or empty)"
    return None


def scales(table) -> np.ndarray:
    """Each row's residual scale: sd when given, else |value| (1 where 0)."""
    value = table["value"].to_numpy(np.float64)
    scale = np.where(value != 0, np.abs(value), 1.0)
    if "sd" in table:
        sd = table["sd"].to_numpy(np.float64)
        scale = np.where(np.isfinite(sd), sd, scale)
    return scale
