"""gpusim summarize RUN.h5|DIR: one screen about a run (or a sweep directory).

A file is summarised by :func:`summarize_file`; a ``gpusim sweep`` output
directory by :func:`summarize_dir` (outcome and response rates per arm and
parameter bin).
"""

from __future__ import annotations

import textwrap
from pathlib import Path



def add_parser(sub) -> None:
    p = sub.add_parser("summarize", help="one screen about a run file (shape, steps, outcome, final state, "
                                         "event totals, clones)")
    p.add_argument("path", help="run file (.h5), or a sweep output directory")
    p.set_defaults(func=main)


def main(args) -> int:
    path = Path(args.path)
    text = summarize_dir(path) if path.is_dir() else summarize_file(path)
    print(text)
    return 0


def summarize_dir(path: Path) -> str:
    """Outcome and response rates per arm and parameter bin of a sweep directory."""
    from ..analysis.sweep_summary import summarize_dir as sweep_summary

    return sweep_summary(path)


def summarize_file(path: str | Path) -> str:
    """The text ``gpusim summarize RUN.h5`` prints.

    >>> import gpusim, tempfile, os
    >>> cfg = gpusim.Config.model_validate({"lattice": {"shape": [20, 20]}, "simulation": {"steps": 30}})
    >>> path = os.path.join(tempfile.mkdtemp(), "run.h5")
    >>> _ = gpusim.run_to_file(cfg, path, backend="numpy")
    >>> print(summarize_file(path))  # doctest: +ELLIPSIS
    run.h5  complete
      lattice    20 x 20 (2D, von_neumann, closed), dx 10 um
      steps      30 of 30 (dt 10 min, 0.21 days), seed 1
    ...
    """
    from ..analysis import open_run
    from ..io.reader import reading
    from ..observables import EVENTS, STATE

    path = Path(path)
    with reading(path), open_run(path) as run:
        cfg, attrs = run.config, run.attrs
        obs = run.observables
        lat = cfg.lattice
        last = obs.iloc[-1] if len(obs) else None
        days = float(obs.index[-1]) if len(obs) else 0.0
        status = run.status + (f" ({attrs['error']})" if attrs.get("error") else "") \
            + (f" by {attrs['interrupted_by']}" if attrs.get("interrupted_by") else "")
        lines = [
            f"{path.name}  {status}",
            f"  lattice    {' x '.join(map(str, lat.shape))} ({lat.dim}D, {lat.neighbourhood}, {lat.boundary}), "
            f"dx {lat.dx_um:g} um",
            f"  steps      {run.steps} of {cfg.simulation.steps} (dt {cfg.simulation.dt_minutes:g} min, "
            f"{days:.2f} days), seed {cfg.simulation.seed}",
            f"  outcome    {attrs.get('outcome', '-')}",
            f"  response   {attrs.get('response', '-')}",
        ]
        if last is not None:  # the state at the end; events summed over every step of the run
            state = ", ".join(f"{k} {_number(last[k])}" for k in obs.columns if k in STATE)
            totals = ", ".join(f"{k} {_number(obs[k].sum())}" for k in obs.columns if k in EVENTS)
            lines += textwrap.wrap(state, 100, initial_indent="  final      ", subsequent_indent=" " * 13)
            lines += textwrap.wrap(f"{totals} (over {run.steps} steps)", 100, initial_indent="  totals     ",
                                   subsequent_indent=" " * 13)
        if "clones" in run.file or "checkpoint" in run.file:
            c = run.clones
            live = c.iloc[1:][c["population"].iloc[1:] > 0]
            where = "" if "clones" in run.file else f" (checkpoint at step {run.clones_step})"
            largest = live["population"].max() if len(live) else 0
            lines.append(f"  clones     {len(c) - 1} founded, {len(live)} alive{where}; largest {largest} cells; "
                         f"escape: {int(live['pdl1'].sum())} PD-L1 high, {int(live['hla'].sum())} HLA lost")
        fields = ", ".join(f"{n} ({len(run.frames(n))} frames)" for n in run.fields) or "none"
        lines.append(f"  fields     {fields}")
        lines.append(f"  phenotype  {_phenotype_line(path, cfg)}")
        runtime = attrs.get("runtime_s")
        rate = f", {run.steps / runtime:.0f} steps/s" if runtime else ""
        lines.append(f"  runtime    {'-' if runtime is None else f'{runtime:.1f} s'}{rate} on {run.backend}")
    return "\n".join(lines)


def _phenotype_line(path: Path, cfg) -> str:
    """The immune phenotype of the last frame and the densities behind it."""
    from ..analysis.analyse import end_state

    end = end_state(path)
    if not end:
        return "- (no lattice frames)"
    a = cfg.analysis
    return (f"{end['phenotype']} at the last frame (T cells per mm^2: core {_number(end['tcell_density_core_per_mm2'])}, "
            f"margin {_number(end['tcell_density_margin_per_mm2'])}; margin {a.margin_width_um:g} um, desert below "
            f"{a.desert_max_tcells_per_mm2:g}, inflamed from core/margin {a.inflamed_min_core_to_margin_ratio:g})")


def _number(v) -> str:
    """Integers as integers, the odd float observable with 4 significant digits."""
    if v != v:  # NaN: nothing to measure (no core, no margin)
        return "-"
    return str(int(v)) if float(v).is_integer() else f"{float(v):.4g}"
