"""gpusim run CONFIG.toml [-o OUT.h5] [--backend B] [--seed N] [--steps N] [--set k=v ...]"""

from __future__ import annotations

import logging
import sys
from pathlib import Path



def add_parser(sub) -> None:
    p = sub.add_parser("run", help="run one simulation into an HDF5 run file")
    p.add_argument("config", help="scenario TOML file")
    p.add_argument("-o", "--output", help="run file (default: CONFIG's name with .h5, here)")
    p.add_argument("--backend", default="auto", help="auto | cuda | cpu | numpy (default auto)")
    p.add_argument("--seed", type=int, help="override simulation.seed")
    p.add_argument("--steps", type=int, help="override simulation.steps")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY.PATH=VALUE",
                   help="override a config value (repeatable), e.g. --set tumour.death_rate_per_day=0.2")
    p.add_argument("--initial", metavar="FILE",
                   help="start from a tissue section: cell table (.csv, .parquet), AnnData (.h5ad) or label image "
                        "(.tif); cell-type mapping and scaling in the config's [initial] table (gpusim.tissue)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    p.add_argument("--analyse", action="store_true",
                   help="when the run is complete, store its spatial statistics and phenotype (gpusim analyse)")
    p.set_defaults(func=main)


def output_path(arg: str | None, config: str, overwrite: bool) -> Path:
    """Where the run file goes; refuses to clobber or to write into nowhere (:mod:`gpusim.io.paths`)."""
    from ..io.paths import check_output

    return check_output(arg if arg is not None else Path(Path(config).stem + ".h5"), overwrite)


def main(args) -> int:
    from ..backends import resolve
    from ..config import load_config
    from ..scenarios import find_config
    from ..simulation import run_to_file
    from ..therapy import unreached

    overrides = list(args.overrides)
    if args.seed is not None:
        overrides.append(f"simulation.seed={args.seed}")
    if args.steps is not None:
        overrides.append(f"simulation.steps={args.steps}")
    args.config = str(find_config(args.config))  # configs/NAME.toml: the shipped one outside a checkout
    cfg = load_config(args.config, overrides)
    if args.initial is not None:
        from ..tissue import with_initial

        cfg = with_initial(cfg, args.initial)
    out = output_path(args.output, args.config, args.overwrite)
    if cfg.initial is not None:  # a bad section fails here, before anything is written
        from ..tissue import load_section

        load_section(cfg)
    for line in unreached(cfg):  # valid (a later resume --steps may reach it), but likely a mistake
        logging.getLogger("gpusim").warning(f"warning: {line}")
    backend = resolve(args.backend)  # fail before any file is written
    obs = run_to_file(cfg, out, backend=backend, progress=not args.quiet)
    print(f"{out}: {cfg.simulation.steps} steps on {backend}; tumour cells {obs['tumour_cells']}, "
          f"live clones {obs['live_clones']}", file=sys.stdout)
    if args.analyse:
        from ..analysis.analyse import write_analysis

        table = write_analysis(out)
        print(f"{out}: /analysis written; end-state phenotype {table['phenotype'].iloc[-1]}")
    return 0
