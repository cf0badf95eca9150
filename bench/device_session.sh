#!/usr/bin/env bash
# One lent-GPU session (bench/README.md): the CUDA/bf16 tests, the reading sweep and two long
# pretraining runs with fresh rows, side by side, within one command's time.
#
#   carry: .whl (zarr, dask, jsonschema wheels: not in the GPU image), data/corpus,
#          models/tokenizer, models/tokenizer_noclause
#   run from the repo root; results go to $OUT (at most 8 files come back).
set -u
OUT=${OUT:-/tmp/device_out}
BUDGET=${BUDGET:-330}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:.
nvidia-smi -L

# Smoke first (sampler check on both tokenizers, a few CUDA steps): a broken script costs
# seconds, not the session.
python3 bench/reading_sweep.py --check --device cuda --runs base,noclause --budget-s 3 \
    --every 5 --out "$OUT/smoke.jsonl" || exit 1

# transformers there must read restarting position ids as document boundaries (document_mask).
python3 -m pytest -q -p no:cacheprovider tests/model/test_data.py -k packed

nvidia-smi --query-gpu=timestamp,utilization.gpu,memory.used --format=csv -l 30 \
    >"$OUT/smi.csv" 2>&1 &
python3 bench/reading_sweep.py --device cuda --budget-s "$BUDGET" --every 250 \
    --runs base,b128,b128_lr1e-2,h128,L4,h128L4,multiq,echo,obj12,h256,seq64,seq40,docmask,noclause \
    --out "$OUT/sweep.jsonl" >/tmp/sweep.log 2>&1 &
sweep=$!

mkdir -p /tmp/pipeline
for variant in fresh_reading fresh_reading_maze; do
    overlays="--params bench/overlays/fresh_reading.yaml"
    [ "$variant" = fresh_reading_maze ] && overlays="$overlays --params bench/overlays/$variant.yaml"
    # shellcheck disable=SC2086
    (timeout $((BUDGET + 120)) python3 -m welfare pretrain --params params.yaml $overlays \
        --out "/tmp/pipeline/$variant/naive" --metrics "/tmp/pipeline/$variant/metrics" \
        >"/tmp/pipeline/$variant.log" 2>&1
     echo "exit $?" >>"/tmp/pipeline/$variant.log") &
done

bash bench/gpu_check.sh >/tmp/gpu_check.out 2>&1
echo "gpu tests exit $?"
tail -5 /tmp/gpu_check.out

wait "$sweep"
echo "sweep exit $?"
wait
cp /tmp/sweep.log "$OUT/sweep.log"
tar czf "$OUT/pipeline.tgz" -C /tmp pipeline
for variant in fresh_reading fresh_reading_maze; do
    tail -3 "/tmp/pipeline/$variant.log"
done
