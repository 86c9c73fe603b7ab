#!/usr/bin/env bash
# Fetch, on a machine with pip and network, the cp312 wheels that a bare GPU
# machine lacks (pydantic and its core, tomli-w, PyTables and its blosc2
# stack) into .whl/ (ignored by git), at the versions installed in the
# Python that runs this script (default: .venv/bin/python, else python3).
# scripts/gpu_check.sh installs them from there.  Usage:
#   scripts/gpu_wheels.sh [PYTHON]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${1:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}
mkdir -p .whl
for name in pydantic pydantic_core annotated_types typing_inspection tomli_w tables numexpr blosc2 ndindex; do
  version=$("$PY" -c "import importlib.metadata as m, sys; print(m.version(sys.argv[1]))" "$name")
  "$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 -d .whl "$name==$version"
done
ls .whl
