#!/usr/bin/env bash
# GPU check, for a machine with a CUDA GPU, run from the source tree without
# `pip install` (the device machine has CuPy, h5py, numpy, pytest; pydantic and
# friends may come as wheels in .whl/).  Writes under $OUT (default ./gpu_check_out):
#   gpu_tests.log      pytest of every test that can run on the cuda backend
#   bench.json         gpusim bench --json on every available backend
#   cohort.json        gpusim bench --cohort 1024 --backend cuda (batched vs one at a time)
#   summary.txt        device, test tally, cuda site updates per second
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

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader > "$OUT/summary.txt" 2>&1
python3 -m gpusim info >> "$OUT/summary.txt" 2>&1

# Every backend-parametrised test (numpy, cpu and cuda) plus the gpu-marked ones.
python3 -m pytest -p no:cacheprovider -q -ra -m "not slow" tests 2>&1 | tee "$OUT/gpu_tests.log"
tests_rc=${PIPESTATUS[0]}
echo "pytest exit code: $tests_rc" >> "$OUT/summary.txt"
tail -n 1 "$OUT/gpu_tests.log" >> "$OUT/summary.txt"

python3 -m gpusim bench --json --backend cuda --backend cpu > "$OUT/bench.json" 2> "$OUT/bench.log"
echo "bench exit code: $?" >> "$OUT/summary.txt"
cat "$OUT/bench.log" >> "$OUT/summary.txt"

# Cohorts (issue 9): 1,024 runs of checkpoint_blockade (100^2, 2,880 steps)
# batched; goal <= 2 min on one H100/H200 and >= 50x one at a time.  One at
# a time is timed on COHORT_ALONE runs (default 8) and given as a rate.
timeout "${COHORT_TIMEOUT:-900}" python3 -m gpusim bench --cohort "${COHORT:-1024}" --backend cuda \
  --alone "${COHORT_ALONE:-8}" --json > "$OUT/cohort.json" 2> "$OUT/cohort.log"
echo "cohort bench exit code: $?" >> "$OUT/summary.txt"
cat "$OUT/cohort.log" >> "$OUT/summary.txt"
cat "$OUT/summary.txt"
exit "$tests_rc"
