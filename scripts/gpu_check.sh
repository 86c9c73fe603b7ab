#!/usr/bin/env bash
# GPU check, for a machine with a CUDA GPU, run from the source tree without
# `pip install` (the device machine has CuPy, h5py, numpy, pandas, pytest;
# pydantic, tomli-w and PyTables come as wheels in .whl/: scripts/gpu_wheels.sh
# fetches them).  About 6 minutes on an H100, inside GPU_CHECK_BUDGET_S (560 s).  Writes under $OUT (default
# ./gpu_check_out) and prints summary.txt last:
#   gpu_tests.log    pytest -m gpu with GPUSIM_REQUIRE_GPU=1 (a skip is a failure)
#   bench.json       gpusim bench --json --profile on cuda (8192^2, 256^3, 1024^3; tumour and full)
#   bench.log        the same, as tables: per-kernel launches, ms, MB per step, fraction of copy
#   measure.jsonl    copy bandwidth (2 GiB), quickstart steps/s, tumour_1e9 start-up and steps
#   cohort.json      gpusim bench --cohort 1024 --backend cuda (batched vs one at a time, runs/hour)
#   tiles.json       gpusim bench --tiles: active tiles vs dense stepping, back to back (issue 20; one JSON list per case)
#   summary.txt      device, test tally, site updates/s, fraction_of_copy, the figures above
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-$PWD/gpu_check_out}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site:${PYTHONPATH:-}
fi
export PYTHONPATH=$PWD:${PYTHONPATH:-}
export GPUSIM_REQUIRE_GPU=1
export GPUSIM_CACHE_DIR=${GPUSIM_CACHE_DIR:-/tmp/gpusim-cache}
S="$OUT/summary.txt"
log() { echo "$*" | tee -a "$S"; }
# One device command may run 600 s: every stage's timeout is cut to what is
# left of GPU_CHECK_BUDGET_S (default 560 s, room for start-up and copying
# $OUT back), so the whole check always ends inside one call.  The stages'
# own limits add up to more (940 s): STAGES picks some of them for a second
# call (default: tests measure bench cohort).
BUDGET_END=$((SECONDS + ${GPU_CHECK_BUDGET_S:-560}))
STAGES=" ${STAGES:-tests measure bench cohort} "
budget() {  # budget N: N seconds, or what is left of the budget (at least 1)
  local left=$((BUDGET_END - SECONDS))
  if [ "$left" -lt 1 ]; then left=1; fi
  if [ "$1" -lt "$left" ]; then echo "$1"; else echo "$left"; fi
}
stage() { [[ "$STAGES" == *" $1 "* ]]; }
tests_rc=0

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader > "$S" 2>&1
python3 -m gpusim info >> "$S" 2>&1

# 1. Every GPU test (identity with numpy, restart on cuda, ...): a skip fails.
if stage tests; then
timeout "$(budget 180)" python3 -m pytest -p no:cacheprovider -q -ra -m gpu tests 2>&1 | tee "$OUT/gpu_tests.log"
tests_rc=${PIPESTATUS[0]}
log "pytest -m gpu exit code: $tests_rc; $(tail -n 1 "$OUT/gpu_tests.log")"
fi

# 2. Roofline: a 2 GiB device-to-device copy; quickstart stepping rate; 10^9-cell start-up.
M="$OUT/measure.jsonl"
if stage measure; then
: > "$M"
timeout "$(budget 30)" python3 scripts/gpu_measure.py copy --backend cuda --gib 2 >> "$M" 2>> "$OUT/measure.log"
timeout "$(budget 60)" python3 scripts/gpu_measure.py quickstart --backend cuda --steps 4000 >> "$M" 2>> "$OUT/measure.log"
timeout "$(budget 120)" python3 scripts/gpu_measure.py startup configs/tumour_1e9.toml --backend cuda --steps 3 \
  >> "$M" 2>> "$OUT/measure.log"
cat "$OUT/measure.log" >> "$S"
fi

# 3. Benchmark with the per-kernel profile.
if stage bench; then
timeout "$(budget 150)" python3 -m gpusim bench --json --profile --backend cuda --size 8192x8192 --size 256x256x256 \
  --size 1024x1024x1024 > "$OUT/bench.json" 2> "$OUT/bench.log"
log "bench exit code: $?"
grep -E "^cuda " "$OUT/bench.log" >> "$S"
python3 - "$OUT/bench.json" >> "$S" 2>&1 <<'PY'
import json, sys
goals = {("tumour", "8192x8192"): 5e10, ("full", "8192x8192"): 2.5e10, ("full", "1024x1024x1024"): 2e10}
for r in json.load(open(sys.argv[1])):
    size = "x".join(map(str, r["shape"]))
    goal = goals.get((r["model"], size))
    print(f"{r['model']:6s} {size:>15s} {r['site_updates_per_s']:.3e} site updates/s"
          + (f" (goal {goal:.1e}: {'met' if r['site_updates_per_s'] >= goal else 'NOT met'})" if goal else "")
          + f"; fraction_of_copy {r['fraction_of_copy']:.3f}; copy {r['copy_bytes_per_s'] / 1e12:.2f} TB/s")
PY
fi
# 4. Cohorts (issue 9): 1,024 runs of checkpoint_blockade (100^2, 2,880 steps)
# batched, run files written; goals <= 2 min on one H100/H200 and >= 50x the
# one-at-a-time rate (timed on COHORT_ALONE runs, default 8, given per hour).
if stage cohort; then
timeout "$(budget "${COHORT_TIMEOUT:-400}")" python3 -m gpusim bench --cohort "${COHORT:-1024}" --backend cuda \
  --alone "${COHORT_ALONE:-8}" --json > "$OUT/cohort.json" 2> "$OUT/cohort.log"
log "cohort bench exit code: $?"
tail -n 3 "$OUT/cohort.log" >> "$S"
python3 - "$OUT/cohort.json" >> "$S" 2>&1 <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))[0]
print(f"cohort {r['cohort']} x {r['steps']} steps: batched {r['batched_s']:.1f} s (goal 120 s: "
      f"{'met' if r['batched_s'] <= 120 else 'NOT met'}); {r['speedup']:.1f}x one at a time (goal 50x: "
      f"{'met' if r['speedup'] >= 50 else 'NOT met'})")
PY
fi
# 5. Active tiles against dense stepping (issue 20), back to back on cuda:
# a radius-20 tumour in 256^3, immune off and on (T cells only through the
# vessels), the quickstart, and a lattice full of tumour.  Not in the
# default STAGES (it would not fit one call): STAGES=tiles for a second call.
if stage tiles; then
T="$OUT/tiles.json"
: > "$T"
Q=configs/quickstart.toml
BIG=(--set "lattice.shape=[256,256,256]" --set tumour.initial_radius_cells=20)
timeout "$(budget "${TILES_TIMEOUT:-100}")" bash -c '
  q=$1; shift; big=("$@")
  python3 -m gpusim bench --backend cuda --json --tiles "$q" "${big[@]}" --set immune.enabled=false --steps 144
  python3 -m gpusim bench --backend cuda --json --tiles "$q" "${big[@]}" --set immune.initial_tcells=0 --steps 144
  python3 -m gpusim bench --backend cuda --json --tiles "$q" --steps 144
  python3 -m gpusim bench --backend cuda --json --tiles filled --size 256x256x256 --steps 20
' _ "$Q" "${BIG[@]}" >> "$T" 2> "$OUT/tiles.log"
log "tiles bench exit code: $?"
cat "$OUT/tiles.log" >> "$S"
fi

echo "=== summary ($S)"
cat "$S"
exit "$tests_rc"
