"""Simulate configs/calibrate_example_data.csv at the true values stated in
configs/calibrate_example.toml (each [[params]] entry's ``truth``).

    python scripts/calibrate_example_data.py [--patients 16] [--seed 777]

Each row is the mean over ``--patients`` simulated patients of its arm, with
their standard deviation (sd) and count (n).  The seed is one the fit never
uses (its runs' seeds derive from the spec seed).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from gpusim.calibrate.run import Calibration

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "configs" / "calibrate_example.toml"
DAYS = {"tumour_cells": [2.0, 4.0, 6.0, 8.0], "tcells": [2.0, 4.0, 6.0, 8.0]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--patients", type=int, default=16)
    ap.add_argument("--seed", type=int, default=777)
    ap.add_argument("--backend", default="cpu")
    args = ap.parse_args()
    cal = Calibration(SPEC, backend=args.backend)
    rows = [{"arm": arm, "time": t, "quantity": q, "value": 0.0}
            for arm in cal.spec.arm_names for q, days in DAYS.items() for t in days]
    from gpusim.calibrate.data import read_data
    from gpusim.calibrate.simulate import Simulator

    data = read_data(pd.DataFrame(rows), cal.spec.arm_names, 8.0, 2)
    truth = {p.key: p.truth for p in cal.spec.params}
    per_patient = []
    for patient in range(args.patients):  # one patient per arm at a time: each its own seed
        sim = Simulator(cal.arm_configs, data, cal.spec.params, args.seed + patient, 1, backend=args.backend)
        per_patient.append(sim([truth], 0, 0)[0])
    values = np.array(per_patient)
    data["value"] = values.mean(axis=0).round(3)
    data["sd"] = values.std(axis=0, ddof=1).round(3)
    data["n"] = args.patients
    out = SPEC.parent / "calibrate_example_data.csv"
    data.to_csv(out, index=False)
    print(f"{out}: {len(data)} rows at {truth}")


if __name__ == "__main__":
    main()
