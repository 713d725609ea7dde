#!/bin/bash
# The GPU run of lil's Hugging Face stopping criterion (docs/python.md), as one
# command on the `device` machine (Python 3.12, torch, transformers, no
# network):
#   1. build lil for that Python: `pip install` of lil's sources (its own build
#      backend, CMake, pybind11 from the machine's Python); the run stops with
#      the build log's tail if that fails (the criterion needs the extension);
#   2. gpu_run.py: the checks, then generate with and without the criterion.
# lil's sources: LIL_SRC, else ./lil-src (a copy made for a checkout that does
# not have the module yet), else the repository (LIL_REPO, default ../..).
# Writes $OUT/gpu_run.json, gpu_run_log.txt, gpu_samples.txt, build_log.txt.
set -u
export PYTHONUNBUFFERED=1
cd "$(dirname "$0")"
here=$(pwd)
OUT=${OUT:-$here/out}
mkdir -p "$OUT"
export LIL_REPO=${LIL_REPO:-$(cd ../.. && pwd)}
if [ -z "${LIL_SRC:-}" ]; then
  if [ -d lil-src ]; then LIL_SRC=$here/lil-src; else LIL_SRC=$LIL_REPO; fi
fi
python3 -c "import sys, torch, transformers; print('python', sys.version.split()[0], 'torch', torch.__version__, 'transformers', transformers.__version__, 'cuda', torch.cuda.is_available())"
include=$(python3 -c "import sysconfig; print(sysconfig.get_paths()['include'])")
pybind=$(python3 -m pybind11 --cmakedir 2>/dev/null || true)
echo "Python.h: $(ls "$include/Python.h" 2>&1); pybind11 cmake dir: ${pybind:-none}"

site=/tmp/lil-site
rm -rf "$site"
if LIL_CMAKE_ARGS="${pybind:+-Dpybind11_DIR=$pybind}" \
   CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)} \
   timeout ${BUILD_LIMIT:-200} python3 -m pip install --no-deps --no-index --target "$site" "$LIL_SRC" >"$OUT/build_log.txt" 2>&1 \
   && PYTHONPATH=$site python3 -c "import lil; lil.Guardian()"; then
  echo "lil: the extension, built by pip install"
else
  echo "lil: pip install failed (tail of $OUT/build_log.txt):"
  tail -n 30 "$OUT/build_log.txt"
  exit 1
fi
PYTHONPATH=$site timeout "${RUN_LIMIT:-300}" python3 gpu_run.py --out "$OUT" "$@"
