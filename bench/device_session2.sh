#!/usr/bin/env bash
# Second lent-GPU call (bench/organism.md): the CUDA/bf16 tests again after the KV-cache keyword
# fix, and a document-masked reading sweep (how few questions does the circuit need?).
#   carry: .whl, models/tokenizer
set -u
OUT=${OUT:-/tmp/device_out}
BUDGET=${BUDGET:-130}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:.
python3 bench/reading_sweep.py --device cuda --budget-s "$BUDGET" --every 100 \
    --runs dm_b16,dm_b32,dm_b64,dm_b32_lr6e-3,dm_multiq_b32,dm_L4_b32,dm_h32_b32,dm_b128_seed1 \
    --out "$OUT/sweep2.jsonl" >/tmp/sweep2.log 2>&1 &
sweep=$!
bash bench/gpu_check.sh >/tmp/gpu_check.out 2>&1
echo "gpu tests exit $?"
grep -E "passed|failed|FAILED" /tmp/gpu_check.out | tail -25
wait "$sweep"
echo "sweep exit $?"
tail -3 /tmp/sweep2.log
