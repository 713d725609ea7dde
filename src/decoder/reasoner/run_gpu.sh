#!/bin/bash
# The one GPU run that trained the committed reasoner (docs/model.md):
# three trainings side by side on one GPU, each its own process:
#   A   the candidate (dim 128, 6 layers), steps chosen to fill ~380 s
#   A2  the same command again, same seed and the same step count (read from
#       A's choice): how far a rerun of the recipe lands from the first
#   B   a wider candidate (dim 192), in case A falls short
# Writes $OUT/{A,A2,B}/{reasoner.bin,train_log.txt}. Run from this folder.
set -u
export PYTHONUNBUFFERED=1
OUT=${OUT:-out}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
mkdir -p "$OUT/A" "$OUT/A2" "$OUT/B"
common="--train-seconds ${TRAIN_SECONDS:-380} --time-limit ${TIME_LIMIT:-500} --skip-tokenizer --workers 4"
python3 train.py --config A --lr 2e-3 --seed 1 --steps-to /tmp/A_steps.txt --out "$OUT/A" $common >/tmp/A.txt 2>&1 &
python3 train.py --config A --lr 2e-3 --seed 1 --steps-from /tmp/A_steps.txt --out "$OUT/A2" $common >/tmp/A2.txt 2>&1 &
python3 train.py --config B --lr 1.5e-3 --seed 1 --out "$OUT/B" $common >/tmp/B.txt 2>&1 &
wait
for r in A A2 B; do echo "=== $r"; grep -v "^step" /tmp/$r.txt | tail -12; grep "^step" /tmp/$r.txt | tail -2; done
