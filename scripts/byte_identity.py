"""Reference run files of every shipped scenario, and a byte-level compare.

A refactor that must not change the model (new components are off by
default, DESIGN §9) is checked against run files written before it:

    # before the change (e.g. in a worktree of the base commit):
    PYTHONPATH=/tmp/base python scripts/byte_identity.py make /tmp/ref
    # after it:
    python scripts/byte_identity.py make /tmp/new
    python scripts/byte_identity.py compare /tmp/ref /tmp/new
    # the same runs with overrides that must not change a byte, e.g. dense stepping:
    python scripts/byte_identity.py make /tmp/dense simulation.active_tiles=false

``make`` writes, for every ``configs/*.toml`` that is a run config (sweep
specs are left out), 200 steps on the cpu and the numpy backend, plus a
batch of 3 on cpu through :func:`gpusim.run_batch` (the config's seed, +1,
+2).  ``tumour_1e9`` is scaled down (``--set`` below) so that it runs here.
``compare`` checks every dataset (dtype, shape, bytes) and every attribute
of every group and dataset, wall-clock attributes aside; it prints one line
per difference and exits 1 if there is any.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import h5py
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
STEPS = 200
BACKENDS = ("cpu", "numpy")
BATCH = 3
#: Overrides that make a config runnable on a laptop; stated in the report.
# (48^3 = 110,592 sites: the config's 10^6 initial T cells are one per site, as
# they were silently capped before counts above the lattice were refused.)
SCALED = {"tumour_1e9": ["lattice.shape=[48, 48, 48]", "tumour.initial_radius_cells=12.0",
                         "immune.initial_tcells=110592"]}
#: Attributes that hold wall-clock or host facts, not results.
WALL_CLOCK = {"runtime_s"}


#: One more scenario that is not shipped: every therapy kind acting inside
#: the 200 steps, periodic boundary (written to OUT).
ALL_THERAPIES = """
[[therapy]]
kind = "vaccine"
start_day = 0.2
end_day = 1.0
recruitment_multiplier = 3.0
[[therapy]]
kind = "checkpoint_blockade"
start_day = 0.4
end_day = 1.2
level = 0.8
[[therapy]]
kind = "adoptive_transfer"
day = 0.5
cells = 150
where = "anywhere"
[[therapy]]
kind = "chemotherapy"
day = 0.9
tumour_kill_prob = 0.2
tcell_kill_prob = 0.1
"""


def run_configs(out: Path) -> list[Path]:
    """Shipped run configs (sweep specs have a [base] table), and
    ``all_therapies`` (the quickstart with :data:`ALL_THERAPIES`)."""
    shipped = [p for p in sorted((ROOT / "configs").glob("*.toml")) if not re.search(r"^\[(base|sweep)\]", p.read_text(), re.M)]
    text = (ROOT / "configs" / "quickstart.toml").read_text()
    text, n = re.subn(r'^boundary = "closed"', 'boundary = "periodic"', text, flags=re.M)
    assert n == 1, "quickstart.toml: no closed boundary to switch"
    extra = out / "all_therapies.toml"
    extra.write_text(text + ALL_THERAPIES)
    return shipped + [extra]


def make(out: Path, overrides: list[str] = ()) -> None:
    import gpusim
    from gpusim.cli.main import main

    out.mkdir(parents=True, exist_ok=True)
    for path in run_configs(out):
        sets = [a for s in [*SCALED.get(path.stem, []), *overrides] for a in ("--set", s)]
        for backend in BACKENDS:
            target = out / f"{path.stem}.{backend}.h5"
            rc = main(["run", str(path), "-o", str(target), "--backend", backend, "--steps", str(STEPS),
                       "-q", "--overwrite", *sets])
            if rc:
                raise SystemExit(f"{path.name} on {backend}: exit {rc}")
        cfg = gpusim.load_config(path, [*SCALED.get(path.stem, []), *overrides, f"simulation.steps={STEPS}"])
        seed = cfg.simulation.seed
        cohort = [cfg.model_copy(update={"simulation": cfg.simulation.model_copy(update={"seed": seed + k})})
                  for k in range(BATCH)]
        outs = [out / f"{path.stem}.batch{k}.h5" for k in range(BATCH)]
        for o in outs:
            o.unlink(missing_ok=True)
        gpusim.run_batch(cohort, outs, backend="cpu", batch=BATCH)
        print(f"{path.stem}: done", flush=True)


def _attrs(obj) -> dict:
    return {k: v for k, v in obj.attrs.items() if k not in WALL_CLOCK}


def _same(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def compare_files(a: Path, b: Path) -> list[str]:
    diffs: list[str] = []
    with h5py.File(a, "r", locking=False) as fa, h5py.File(b, "r", locking=False) as fb:
        names_a, names_b = [], []
        fa.visit(names_a.append)
        fb.visit(names_b.append)
        for name in sorted(set(names_a) ^ set(names_b)):
            diffs.append(f"{b.name}: /{name} only in {'ref' if name in names_a else 'new'}")
        for name in [""] + sorted(set(names_a) & set(names_b)):
            oa, ob = (fa[name], fb[name]) if name else (fa, fb)
            if isinstance(oa, h5py.Dataset) != isinstance(ob, h5py.Dataset):
                diffs.append(f"{b.name}: /{name} is a dataset in one file only")
                continue
            if isinstance(oa, h5py.Dataset) and not _same(oa[()], ob[()]):
                diffs.append(f"{b.name}: /{name} differs")
            ta, tb = _attrs(oa), _attrs(ob)
            for key in sorted(set(ta) | set(tb)):
                if key not in ta or key not in tb or not _same(ta[key], tb[key]):
                    diffs.append(f"{b.name}: /{name} attribute {key!r} differs")
    return diffs


def compare(ref: Path, new: Path) -> int:
    files = sorted(p.name for p in ref.glob("*.h5"))
    if not files:
        print(f"no run files in {ref}")
        return 1
    diffs = []
    for name in files:
        if not (new / name).exists():
            diffs.append(f"{name}: missing")
            continue
        diffs += compare_files(ref / name, new / name)
    for line in diffs:
        print(line)
    print(f"{len(files)} files compared, {len(diffs)} differences")
    return 1 if diffs else 0


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "make":
        make(Path(sys.argv[2]), sys.argv[3:])
    elif len(sys.argv) == 4 and sys.argv[1] == "compare":
        raise SystemExit(compare(Path(sys.argv[2]), Path(sys.argv[3])))
    else:
        raise SystemExit(__doc__)
