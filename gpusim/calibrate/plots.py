"""Figures of a calibration: marginals, pairs, epsilon per generation,
posterior-predictive statistics against the data."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .spec import MASS

POSTERIOR = "#2166ac"
PRIOR = "#999999"
TRUTH = "#d6604d"
ARM_COLOURS = ("tab:blue", "tab:orange", "tab:green", "tab:purple", "tab:red", "tab:brown")


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:
    tmp = path.with_name(path.stem + ".tmp.png")
    fig.savefig(tmp, dpi=110)
    tmp.replace(path)
    _pyplot().close(fig)
    return path


def _bins(p, values: np.ndarray):
    lo, hi = p.interval(0.999)
    lo, hi = min(lo, values.min()), max(hi, values.max())
    if p.log_scale:
        return np.geomspace(lo, hi, 41)
    return np.linspace(lo, hi, 41)


def save_figures(cal, table, summary: dict, gens, predictive, out: Path) -> list[Path]:
    """Write marginals.png, pairs.png, epsilon.png and predictive.png into ``out``."""
    return [marginals(cal, table, summary, out / "marginals.png"), pairs(cal, table, out / "pairs.png"),
            epsilon(gens, out / "epsilon.png"), predictive_figure(predictive, out / "predictive.png")]


def marginals(cal, table, summary: dict, path: Path) -> Path:
    plt = _pyplot()
    params = cal.spec.params
    fig, axes = plt.subplots(1, len(params), figsize=(4.2 * len(params), 3.4), layout="constrained", squeeze=False)
    w = table["weight"].to_numpy()
    for ax, p in zip(axes[0], params):
        values = table[p.key].to_numpy()
        bins = _bins(p, values)
        # On a log axis, densities per decade (a log-uniform prior is flat there).
        widths = np.diff(np.log10(bins)) if p.log_scale else np.diff(bins)
        counts, _ = np.histogram(values, bins=bins, weights=w)
        ax.stairs(counts / w.sum() / widths, bins, fill=True, color=POSTERIOR, alpha=0.75, label="posterior")
        grid = np.geomspace(bins[0], bins[-1], 400) if p.log_scale else np.linspace(bins[0], bins[-1], 400)
        prior = p.rv().distribution.pdf(grid) * (grid * np.log(10) if p.log_scale else 1.0)
        ax.plot(grid, prior, color=PRIOR, lw=1.5, label="prior")
        s = summary[p.key]
        ax.axvspan(s["lo"], s["hi"], color=POSTERIOR, alpha=0.12, label=f"{MASS:.0%} credible interval")
        if p.truth is not None:
            ax.axvline(p.truth, color=TRUTH, lw=2, ls="--", label="true value")
        if p.log_scale:
            ax.set_xscale("log")
        ax.set_xlabel(p.key)
        ax.set_ylabel("density per decade" if p.log_scale else "density")
        ax.set_title(f"median {s['median']:.3g}, CI [{s['lo']:.3g}, {s['hi']:.3g}]\n"
                     f"{s['narrowing']:.1f}x narrower than the prior", fontsize=9)
    axes[0][0].legend(fontsize=8)
    fig.suptitle(f"posterior marginals (generation {table.attrs['generation']}, {len(table)} particles)",
                 fontsize=10)
    return _save(fig, path)


def pairs(cal, table, path: Path) -> Path:
    plt = _pyplot()
    params = cal.spec.params
    k = len(params)
    fig, axes = plt.subplots(k, k, figsize=(2.9 * k + 0.6, 2.9 * k), layout="constrained", squeeze=False)
    w = table["weight"].to_numpy()
    size = 8 + 60 * w / w.max()
    for i, pi in enumerate(params):
        for j, pj in enumerate(params):
            ax = axes[i][j]
            if i == j:
                ax.hist(table[pi.key], bins=_bins(pi, table[pi.key].to_numpy()), weights=w, color=POSTERIOR, alpha=0.75)
                if pi.truth is not None:
                    ax.axvline(pi.truth, color=TRUTH, lw=2, ls="--")
                ax.set_yticks([])
            elif i > j:
                ax.scatter(table[pj.key], table[pi.key], s=size, color=POSTERIOR, alpha=0.5, lw=0)
                if pi.truth is not None and pj.truth is not None:
                    ax.plot(pj.truth, pi.truth, marker="*", ms=16, color=TRUTH, mec="white")
                lo, hi = pj.interval(0.999)
                ax.set_xlim(min(lo, table[pj.key].min()), max(hi, table[pj.key].max()))
                lo, hi = pi.interval(0.999)
                ax.set_ylim(min(lo, table[pi.key].min()), max(hi, table[pi.key].max()))
            else:
                ax.axis("off")
                continue
            if pj.log_scale:
                ax.set_xscale("log")
            if i > j and pi.log_scale:
                ax.set_yscale("log")
            if i == k - 1:
                ax.set_xlabel(pj.key, fontsize=8)
            if j == 0 and i > 0:
                ax.set_ylabel(pi.key, fontsize=8)
    fig.suptitle("posterior pairs (axes: the prior's range; dot size: weight; star: true values)", fontsize=10)
    return _save(fig, path)


def epsilon(gens, path: Path) -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 3.4), layout="constrained")
    g = gens[np.isfinite(gens["epsilon"])]
    ax.plot(g["generation"], g["epsilon"], marker="o", color=POSTERIOR)
    ax.set_ylim(0, None)
    ax.set_xlabel("generation")
    ax.set_ylabel("epsilon (acceptance threshold)", color=POSTERIOR)
    ax.set_xticks(gens["generation"])
    ax2 = ax.twinx()
    ax2.plot(gens["generation"], gens["acceptance_rate"], marker="s", color=PRIOR, ls="--")
    ax2.set_ylabel("acceptance rate", color=PRIOR)
    ax2.set_ylim(0, 1.05)
    ax.set_title("epsilon per generation (generation 0: the prior, all accepted)", fontsize=9)
    return _save(fig, path)


def predictive_figure(predictive, path: Path) -> Path:
    plt = _pyplot()
    quantities = list(dict.fromkeys(predictive["quantity"]))
    fig, axes = plt.subplots(1, len(quantities), figsize=(4.8 * len(quantities), 3.6), layout="constrained",
                             squeeze=False)
    arms = list(dict.fromkeys(predictive["arm"]))
    for ax, q in zip(axes[0], quantities):
        rows = predictive[predictive["quantity"] == q]
        for c, arm in enumerate(arms):
            d = rows[rows["arm"] == arm].sort_values("time")
            if not len(d):
                continue
            colour = ARM_COLOURS[c % len(ARM_COLOURS)]
            ax.fill_between(d["time"], d["sim_q05"], d["sim_q95"], color=colour, alpha=0.2, lw=0)
            ax.plot(d["time"], d["sim_median"], color=colour, lw=1.5, label=f"{arm}: simulated (median, 5-95 %)")
            sd = d["sd"] if "sd" in d else None
            ax.errorbar(d["time"], d["value"], yerr=sd, fmt="o", color=colour, mec="black", ms=5,
                        capsize=3, label=f"{arm}: data")
        ax.set_xlabel("time (days)")
        ax.set_ylabel(q)
        ax.set_title(q, fontsize=9)
    axes[0][0].legend(fontsize=7)
    fig.suptitle("posterior predictive: the last generation's simulated statistics against the data", fontsize=10)
    return _save(fig, path)
