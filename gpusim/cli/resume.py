"""gpusim resume RUN.h5 [--steps N] [--backend B]"""

from __future__ import annotations

import sys

HELP = """\
Continue a run file from its checkpoint (/checkpoint), in place.

Without --steps, an unfinished run (status running, interrupted or failed)
finishes its configured simulation.steps.  With --steps N the run goes on
for N steps beyond the checkpoint: for a complete run that is N more steps.
Rows and frames written after the checkpoint are discarded and recomputed,
so the result is byte-identical to a run made in one go.

Exit codes: 0 done, 2 bad file or argument, 143/138/130 stopped again by
SIGTERM/SIGUSR1/SIGINT (checkpoint written, status interrupted)."""


def add_parser(sub) -> None:
    import argparse

    p = sub.add_parser("resume", help="continue a run file from its checkpoint", description=HELP,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", help="run file (.h5) written by gpusim run")
    p.add_argument("--steps", type=int, metavar="N",
                   help="run N steps beyond the checkpoint (default: finish the configured steps)")
    p.add_argument("--backend", default="auto",
                   help="auto | cuda | cpu | numpy (default auto; every backend gives the same bytes)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=main)


def main(args) -> int:
    from ..simulation import resume_run

    obs, start = resume_run(args.run, steps=args.steps, backend=args.backend, progress=not args.quiet)
    import h5py

    with h5py.File(args.run, "r", locking=False) as f:
        steps, backend = int(f.attrs["steps"]), f["parameters"].attrs["backend"]
    print(f"{args.run}: resumed at step {start}, complete at step {steps} on {backend}; "
          f"tumour cells {obs['tumour_cells']}, live clones {obs['live_clones']}", file=sys.stdout)
    return 0
