#!/usr/bin/env bash
# Runs today's adapter tests against the engine adapters as they were before
# the fixes of issue 9 (commit bf5f102, the parent of the first fix), to show
# that each test of an upstream mismatch fails there. Builds that commit's
# Python module in a scratch git worktree; prints pytest's one-line reasons.
# Usage: scripts/upstream_tests_before_fixes.sh [scratch dir]   (from the repo)
# The record of a run is docs/python_upstream_before.txt.
set -euo pipefail
repo=$(git rev-parse --show-toplevel)
scratch=${1:-$(mktemp -d)}
before=bf5f102
shared=${LIL_SHARED_DIR:-$repo/../shared}
[ -d "$shared/upstream" ] || { echo "needs the shared upstream files (LIL_SHARED_DIR, default ../shared)" >&2; exit 2; }
if [ ! -d "$scratch/tree" ]; then git -C "$repo" worktree add -q --detach "$scratch/tree" "$before"; fi
cmake -S "$scratch/tree" -B "$scratch/build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DLIL_BUILD_PYTHON=ON \
  -DPython_EXECUTABLE=/usr/bin/python3 -DLIL_BUILD_TESTS=OFF >/dev/null
cmake --build "$scratch/build" --target _lil lil_python_package >/dev/null
echo "adapters of $(git -C "$repo" log -1 --format='%h %s' "$before" | cut -c1-80)"
echo "tests of    $(git -C "$repo" log -1 --format='%h %s' HEAD | cut -c1-80)"
cd "$repo/python/tests"
# pytest exits 1 when tests fail, which is the point here.
LIL_SHARED_DIR=$shared PYTHONPATH=$scratch/build/python /usr/bin/python3 -m pytest -q -p no:cacheprovider --tb=line \
  test_vllm_upstream.py test_sglang_upstream.py test_hf.py -k "upstream or beam or deepcopy" | grep -v '^$' || true
