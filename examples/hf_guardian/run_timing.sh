#!/bin/bash
# The criterion-timing run (criterion_timing.py, docs/python.md) as one command
# on the device machine: build lil's extension for its Python with pip (lil's
# own build backend: CMake + pybind11), then time the criterion.
# Writes $OUT/criterion_timing.json, criterion_timing.txt, build_log.txt.
set -u
export PYTHONUNBUFFERED=1
cd "$(dirname "$0")"
OUT=${OUT:-$(pwd)/out}
mkdir -p "$OUT"
src=$(cd ../.. && pwd)
python3 -c "import sys, torch, transformers, tokenizers; print('python', sys.version.split()[0], 'torch', torch.__version__, 'transformers', transformers.__version__, 'tokenizers', tokenizers.__version__, 'cuda', torch.cuda.is_available())"
pybind=$(python3 -m pybind11 --cmakedir 2>/dev/null || true)
site=/tmp/lil-site
rm -rf "$site"
start=$(date +%s)
LIL_CMAKE_ARGS="${pybind:+-Dpybind11_DIR=$pybind}" CMAKE_BUILD_PARALLEL_LEVEL=$(nproc) \
  timeout ${BUILD_LIMIT:-240} python3 -m pip install --no-deps --no-index --target "$site" "$src" >"$OUT/build_log.txt" 2>&1 \
  || { echo "pip install failed:"; tail -n 30 "$OUT/build_log.txt"; exit 1; }
echo "lil built in $(( $(date +%s) - start )) s"
PYTHONPATH=$site timeout "${RUN_LIMIT:-300}" python3 criterion_timing.py --out "$OUT" "$@" 2>&1 | tee "$OUT/criterion_timing.txt"
