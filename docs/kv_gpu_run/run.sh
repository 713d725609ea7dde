#!/bin/bash
# The GPU run of lil's KV policies (docs/kv.md, "The policies on the GPU"), one
# command on a CUDA machine with torch and transformers (no network needed):
#   check  build the kernels and kv_cuda_check with CMake (the optional target
#          src/kv/cuda), run it: every kernel against the CPU policies
#   bench  bench.py: each policy's bookkeeping beside a dense attention step
#   table  lil_table.py: the reasoner through model.generate with lil's cache
# The torch binding (python/lil_torch) and lil's Python module (Guardian, for
# the table) are built alongside the check. Writes to $OUT (default
# docs/kv_gpu_run/out): kv_cuda_check.txt, bench.{json,txt},
# lil_table.{json,txt}, build_log.txt.
#   STAGES=check,bench,table (default all)   JOBS=16
set -u
export PYTHONUNBUFFERED=1
cd "$(dirname "$0")/../.."
repo=$(pwd)
OUT=${OUT:-$repo/docs/kv_gpu_run/out}
mkdir -p "$OUT"
STAGES=${STAGES:-check,bench,table}
JOBS=${JOBS:-$(nproc)}
has() { case ",$STAGES," in *",$1,"*) return 0 ;; esac; return 1; }
export TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST:-9.0}
export MAX_JOBS=$JOBS
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
python3 -c "import sys, torch, transformers; print('python', sys.version.split()[0], 'torch', torch.__version__, 'transformers', transformers.__version__, 'cuda', torch.version.cuda)"
nvcc --version | tail -1
log=$OUT/build_log.txt
: >"$log"

# lil's Python module (Guardian) and the torch binding build in the background
# while CMake builds the check.
site=/tmp/lil-site
(
  rm -rf "$site"
  pybind=$(python3 -m pybind11 --cmakedir 2>/dev/null || true)
  if LIL_CMAKE_ARGS="${pybind:+-Dpybind11_DIR=$pybind} -DLIL_BUILD_CUDA=OFF" CMAKE_BUILD_PARALLEL_LEVEL=$JOBS \
     timeout 300 python3 -m pip install --no-deps --no-index --target "$site" "$repo" >/tmp/lil_pip.txt 2>&1 \
     && PYTHONPATH=$site python3 -c "import lil; lil.Guardian()"; then
    echo "lil: the extension, built by pip install" >/tmp/lil_which.txt
  else
    echo "lil: pip install failed (tail of its log below); the table stage needs it" >/tmp/lil_which.txt
    tail -n 30 /tmp/lil_pip.txt >>/tmp/lil_which.txt
  fi
) &
lil_job=$!
(
  t=$(date +%s)
  python3 -c "import sys; sys.path.insert(0, 'python'); import lil_torch; lil_torch.extension('/tmp/lil_torch_build', verbose=True)" \
    >/tmp/lil_torch_build.txt 2>&1 && echo "torch binding built in $(( $(date +%s) - t )) s" >>/tmp/lil_torch_build.txt
) &
ext_job=$!

status=0
if has check; then
  t=$(date +%s)
  { cmake -S . -B /tmp/build-cuda -G Ninja -DCMAKE_BUILD_TYPE=Release -DLIL_BUILD_TESTS=OFF -DLIL_BUILD_BENCH=OFF \
      -DLIL_BUILD_EXAMPLES=OFF -DLIL_BUILD_CLI=OFF -DLIL_INSTALL=OFF -DCMAKE_CUDA_ARCHITECTURES=90 \
    && cmake --build /tmp/build-cuda --target kv_cuda_check -j "$JOBS"; } >>"$log" 2>&1
  echo "cmake build of kv_cuda_check: rc $? in $(( $(date +%s) - t )) s" | tee -a "$log"
  /tmp/build-cuda/bin/kv_cuda_check 2>&1 | tee "$OUT/kv_cuda_check.txt"
  [ "${PIPESTATUS[0]}" = 0 ] || status=1
fi
wait $ext_job
{ echo "=== torch binding"; tail -n 40 /tmp/lil_torch_build.txt; } >>"$log"
tail -n 1 /tmp/lil_torch_build.txt
if has bench; then
  # The GPU's clocks and power through the bench (every 100 ms): a step timed
  # slower than another of the same work shows here if the clocks moved.
  nvidia-smi --query-gpu=timestamp,clocks.sm,clocks.mem,power.draw,temperature.gpu --format=csv -lms 100 \
    >"$OUT/gpu_clocks.csv" 2>&1 &
  smi_job=$!
  timeout "${BENCH_LIMIT:-240}" python3 docs/kv_gpu_run/bench.py --out "$OUT" || status=1
  kill "$smi_job" 2>/dev/null
fi
wait $lil_job
cat /tmp/lil_which.txt | tee -a "$log"
{ echo "=== lil module"; tail -n 30 /tmp/lil_pip.txt; } >>"$log"
if has table; then
  PYTHONPATH=$site timeout "${TABLE_LIMIT:-400}" python3 docs/kv_gpu_run/lil_table.py --out "$OUT" \
    --time-limit "${TABLE_TIME:-330}" || status=1
fi
exit $status
