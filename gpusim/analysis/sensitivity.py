"""Sensitivity of a sweep's output to its swept parameters, per arm.

* A Sobol' design (``[random] design = "sobol"`` in the sweep spec): first-
  order and total Sobol' indices S1 and ST with 95 % bootstrap confidence
  half-widths (SALib, Saltelli/Jansen estimators).  S1: the share of the
  output's variance a parameter explains alone; ST: including all its
  interactions.
* Any other design (a Latin hypercube, a grid, or both): partial rank
  correlation coefficients (PRCC, Marino et al. 2008 J Theor Biol 254:178):
  the Spearman correlation of the parameter with the output once the other
  parameters' (rank-linear) effects are removed from both, with its p-value.

Replicates of a parameter point are averaged first (the model is
stochastic; the indices describe the mean output).  The output is a number
per run: a numeric column of ``summary.h5`` (``tumour_change``,
``tumour_cells_final``, ...), ``outcome`` (1 for ``elimination``, or
``outcome=LABEL``), ``response`` (1 for CR or PR: objective response),
``phenotype`` (1 for ``inflamed``, or ``phenotype=LABEL``), or the final
value of any observable in the run files (``tmb``, ``tcells``, ...).

>>> rng = np.random.default_rng(0)
>>> x = rng.random((200, 3)); y = 5 * x[:, 0] + 0.1 * rng.random(200)   # x0 decides y
>>> [round(float(r), 2) for r in prcc(x, y)[0]]
[1.0, -0.02, -0.07]
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..outcome import OUTCOMES
from .spatial import NOT_EVALUABLE, PHENOTYPES

#: Outputs read from a categorical column: name -> (column, label counted as 1 by default).
INDICATORS = {"outcome": ("outcome", "elimination"), "phenotype": ("phenotype", "inflamed")}
#: The labels each of those columns can hold.
LABELS = {"outcome": OUTCOMES, "phenotype": (*PHENOTYPES, NOT_EVALUABLE)}
OBJECTIVE_RESPONSES = ("CR", "PR")


def prcc(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Partial rank correlation of each column of ``x`` (points x parameters)
    with ``y``, and its two-sided p-value (t distribution, n - 2 - k dof)."""
    from scipy import stats

    x, y = np.asarray(x, float), np.asarray(y, float)
    n, k = x.shape
    rx = np.column_stack([stats.rankdata(c) for c in x.T]) if k else x
    ry = stats.rankdata(y)
    coef, p = np.full(k, np.nan), np.full(k, np.nan)
    for j in range(k):
        others = np.column_stack([np.ones(n), np.delete(rx, j, axis=1)])
        res_x = rx[:, j] - others @ np.linalg.lstsq(others, rx[:, j], rcond=None)[0]
        res_y = ry - others @ np.linalg.lstsq(others, ry, rcond=None)[0]
        if res_x.std() == 0 or res_y.std() == 0:
            continue
        r = float(np.clip(np.corrcoef(res_x, res_y)[0, 1], -1.0, 1.0))
        dof = n - 2 - (k - 1)
        coef[j] = r
        if dof > 0 and abs(r) < 1:
            t = r * math.sqrt(dof / (1 - r * r))
            p[j] = 2 * stats.t.sf(abs(t), dof)
        elif dof > 0:
            p[j] = 0.0
    return coef, p


def output_values(out_dir: Path, df, output: str):
    """The output of each run of the summary table ``df`` (a float Series)."""
    import pandas as pd

    name, _, label = output.partition("=")
    done = df["status"] == "complete"
    if label and name in LABELS and label not in LABELS[name]:
        raise InputError(f"--output {output}: {name} is one of {', '.join(LABELS[name])}")
    if name in INDICATORS:
        column, default = INDICATORS[name]
        if not df.loc[done, column].isin(LABELS[name]).any():
            raise InputError(f"--output {output}: no complete run has a {column} (phenotype needs lattice frames: "
                             f"output.frame_every_steps > 0)")
        return (df[column] == (label or default)).astype(float).where(done)
    if name == "response":
        return df["response"].isin(OBJECTIVE_RESPONSES).astype(float).where(done)
    if label:
        raise InputError(f"--output {output}: only outcome=LABEL and phenotype=LABEL take a label")
    if name in df.columns and pd.api.types.is_numeric_dtype(df[name]):
        return df[name].astype(float).where(done)
    return _final_observable(out_dir, df, name)


def _final_observable(out_dir: Path, df, name: str):
    import h5py
    import pandas as pd

    from ..sweepdir import store

    values = []
    for row in df.itertuples():
        path = store.run_path(out_dir, row.run_id)
        value = math.nan
        if row.status == "complete":
            with h5py.File(path, "r") as f:
                ds = f.get(f"observables/{name}/value")
                if ds is None:
                    numeric = [c for c in df.columns if pd.api.types.is_numeric_dtype(df[c])]
                    raise InputError(f"--output {name}: not a summary column or an observable of the runs (try "
                                     f"outcome, response, phenotype, {', '.join(numeric[:6])}, or an observable "
                                     f"such as {', '.join(list(f['observables'])[:4])})")
                if len(ds):
                    value = float(ds[-1])
        values.append(value)
    return pd.Series(values, index=df.index, dtype=float)


def indices(out_dir: str | Path, output: str = "outcome"):
    """Sensitivity indices of ``output`` per arm and swept parameter: a
    DataFrame with ``arm``, ``parameter``, ``method`` (sobol or prcc) and
    the method's indices (S1, S1_conf, ST, ST_conf; or PRCC, p_value),
    plus ``points`` (parameter points used) and ``output``."""
    import pandas as pd

    from ..sweepdir import store
    from .sweep_summary import collect

    out_dir = Path(out_dir)
    header, _ = store.load_runs(out_dir)
    keys = [p["key"] for p in header["params"]]
    if not keys:
        raise InputError(f"{out_dir}: the sweep varies no parameter; nothing to be sensitive to")
    spec_path = out_dir / "sweep.toml"
    design = _design(spec_path)
    df = collect(out_dir)
    df["_y"] = output_values(out_dir, df, output)
    rows = []
    for arm, g in df.groupby("arm", sort=False):
        g = g.sort_values("index")
        point = g[keys].astype(str).agg("|".join, axis=1)  # replicates share their point
        means = g.assign(_point=point).groupby("_point", sort=False).agg({**{k: "first" for k in keys}, "_y": "mean"})
        if means["_y"].isna().any():
            missing = int(means["_y"].isna().sum())
            raise InputError(f"{out_dir}: arm {arm}: {missing} parameter points have no complete run yet "
                             f"(rerun the gpusim sweep command to finish them)")
        y = means["_y"].to_numpy(float)
        if design == "sobol":
            rows += _sobol_rows(arm, keys, y, header)
        else:
            x = means[keys].to_numpy(float)
            coef, p = prcc(x, y)
            rows += [{"arm": arm, "parameter": k, "method": "prcc", "PRCC": c, "p_value": pv, "points": len(y)}
                     for k, c, pv in zip(keys, coef, p)]
    table = pd.DataFrame(rows)
    table.insert(0, "output", output)
    return table


def _design(spec_path: Path) -> str:
    from ..sweepdir.spec import load_spec

    spec, _ = load_spec(spec_path)
    return spec.random.design if spec.random is not None else "grid"


def _sobol_rows(arm: str, keys: list[str], y: np.ndarray, header: dict) -> list[dict]:
    from SALib.analyze import sobol

    d = len(keys)
    if len(y) % (d + 2):
        raise InputError(f"arm {arm}: {len(y)} points is not a Saltelli sample of {d} parameters")
    problem = {"num_vars": d, "names": keys, "bounds": [[0.0, 1.0]] * d}
    note = ""
    if np.ptp(y) == 0:
        res = {k: np.full(d, np.nan) for k in ("S1", "S1_conf", "ST", "ST_conf")}
        note = "the output is the same at every point: no index"
    else:
        import warnings

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            res = sobol.analyze(problem, y, calc_second_order=False, seed=int(header["sweep_seed"]) % 2**32)
        if caught:  # SALib: "Constant values encountered" when A or B alone holds one value
            note = "the output is constant over part of the Saltelli sample: indices unreliable (more points?)"
    return [{"arm": arm, "parameter": k, "method": "sobol", "S1": float(res["S1"][j]),
             "S1_conf": float(res["S1_conf"][j]), "ST": float(res["ST"][j]), "ST_conf": float(res["ST_conf"][j]),
             "points": len(y), "note": note} for j, k in enumerate(keys)]


def plot(table, out: str | Path) -> Path:
    """Bar chart of the indices per parameter, one panel per arm."""
    fig = figure(table)
    out = Path(out)
    fig.savefig(out, dpi=90)
    return out


def figure(table):
    """The indices of :func:`indices` as a matplotlib Figure (no pyplot)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    arms = list(dict.fromkeys(table["arm"]))
    fig = Figure(figsize=(1.2 + 4.2 * len(arms), 3.8), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(arms), squeeze=False)
    output = table["output"].iloc[0]
    for ax, arm in zip(axes[0], arms):
        t = table[table["arm"] == arm]
        pos = np.arange(len(t))
        if t["method"].iloc[0] == "sobol":
            ax.barh(pos - 0.2, t["S1"], 0.4, xerr=t["S1_conf"], label="S1 (first order)", color="#4575b4")
            ax.barh(pos + 0.2, t["ST"], 0.4, xerr=t["ST_conf"], label="ST (total)", color="#d73027")
            ax.set_xlabel("Sobol' index (whiskers: 95 % CI)")
            # Every whisker of every arm in view, on one x range for all arms.
            ends = np.nan_to_num(np.concatenate([table[k] + sign * table[f"{k}_conf"] for k in ("S1", "ST")
                                                 for sign in (-1, 1)]).astype(float), nan=0.0)  # NaN: constant
            ax.set_xlim(min(-0.05, float(ends.min()) - 0.05), max(1.1, float(ends.max()) + 0.05))
        else:
            colours = ["#d73027" if p < 0.05 else "#bdbdbd" for p in t["p_value"].fillna(1.0)]
            ax.barh(pos, t["PRCC"], 0.6, color=colours)
            ax.set_xlim(-1.05, 1.05)
            ax.set_xlabel("PRCC (red: p < 0.05)")
        ax.axvline(0, color="k", lw=0.6)
        ax.set_yticks(pos, t["parameter"], fontsize=7)
        ax.invert_yaxis()
        ax.set_title(f"arm {arm} ({int(t['points'].iloc[0])} points)", fontsize=9)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    if handles:  # once, under the panels: a legend inside one would sit on its bars or whiskers
        fig.legend(handles, labels, loc="outside lower center", ncols=len(handles), fontsize=8)
    fig.suptitle(f"sensitivity of {output}", fontsize=10)
    return fig
