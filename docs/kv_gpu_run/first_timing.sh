#!/bin/bash
# Is the first timing of the Quest step after the dense step slower because
# the policies' state takes the dense K/V's freed memory? bench.py at 16k and
# 32k, twice each, as it is and with --free-after-dense (the K/V returned to
# the driver first). Run from the repository root on the device machine;
# writes $OUT/{plain,free}{1,2}.log (out_quest_first_timing/ holds a run).
set -u
cd "$(dirname "$0")/../.."
OUT=${OUT:-docs/kv_gpu_run/out_quest_first_timing}
mkdir -p "$OUT"
python3 -c "import sys; sys.path.insert(0, 'python'); import lil_torch; lil_torch.extension('/tmp/lil_torch_build')" \
  >"$OUT/ext.log" 2>&1
echo "ext rc $?"
for i in 1 2; do
  for m in plain free; do
    f=""
    [ $m = free ] && f=--free-after-dense
    python3 docs/kv_gpu_run/bench.py --out "$OUT/$m$i" --contexts 16384,32768 $f >"$OUT/$m$i.log" 2>&1
    echo "== $m$i"
    grep -E "^context (16384|32768): dense" "$OUT/$m$i/bench.txt" | sed -E 's/\| h2o.*//'
    grep -E "^context 32768: quest bf16 step by new" "$OUT/$m$i/bench.txt" |
      grep -oE "(default|default_again) [0-9.]+ us \([0-9.]+%\)"
  done
done
