#!/usr/bin/env bash
# Paper scale on one GPU (issue 22; bench/gpu_paper_scale.md). Run from the repo root or anywhere:
#
#   bash bench/gpu_paper_scale.sh [bench/paper_scale.py options]
#
# 1. Wheels in .whl/ (jsonschema and its needs, zarr, dask: see gpu_paper_scale.md), if any, are
#    installed into /tmp/site (no network needed); the package itself is read from the tree.
# 2. bench/paper_scale.py (a Qwen3-4B-shaped random bf16 model: RL step, recording, steering)
#    with a budget of PAPER_SCALE_BUDGET_S seconds (default 260) for its sections, under a hard
#    `timeout` of what is left of PAPER_SCALE_DEADLINE_S (default 360: wall seconds for this
#    whole script; with the machine's start ~7–8 min of device time). Results: paper_scale.json,
#    and paper_scale.log in $OUT.
# 3. When GPU_CHECK=1 (default) and at least GPU_CHECK_MIN_S seconds (default 90) are left:
#    bench/gpu_check.sh (tests/gpu, log in $OUT/gpu_tests.log) under a timeout of what is left.
# Exits non-zero when either step failed. On a CPU the Python degrades to its small shape.
set -u
cd "$(dirname "$0")/.."
deadline=${PAPER_SCALE_DEADLINE_S:-360}
python=${PYTHON:-python3}
export OUT=${OUT:-$PWD/paper_scale_out}
mkdir -p "$OUT"
export PYTHONPATH=".${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
export TOKENIZERS_PARALLELISM=false HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1

if compgen -G ".whl/*.whl" >/dev/null; then
    "$python" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl && export PYTHONPATH="$PYTHONPATH:/tmp/site" \
        || echo "gpu_paper_scale: installing .whl/ failed; going on without it"
fi
nvidia-smi -L 2>/dev/null || echo "nvidia-smi: not available"

left() { local s=$((deadline - SECONDS)); echo $((s > 1 ? s : 1)); }  # timeout 0 = none
timeout --signal=INT --kill-after=15 "$(left)" "$python" bench/paper_scale.py "$@" 2>&1 \
    | tee "$OUT/paper_scale.log"
status=${PIPESTATUS[0]}
echo "gpu_paper_scale: paper_scale.py exited $status after $SECONDS s"

if [ "${GPU_CHECK:-1}" = 1 ]; then
    if [ "$(left)" -ge "${GPU_CHECK_MIN_S:-90}" ]; then
        timeout --signal=INT --kill-after=10 "$(left)" bash bench/gpu_check.sh
        check=$?
        echo "gpu_paper_scale: gpu_check.sh exited $check after $SECONDS s"
        [ "$check" -ne 0 ] && [ "$status" -eq 0 ] && status=$check
    else
        echo "gpu_paper_scale: gpu_check.sh skipped ($(left) s left < ${GPU_CHECK_MIN_S:-90} s)"
    fi
fi
exit "$status"
