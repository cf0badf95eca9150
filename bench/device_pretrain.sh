#!/usr/bin/env bash
# Portability of the scratch recipe (issue 21, item 5): pretrain seed 0 with the default
# params.yaml on another machine's CPU and compare it with the kept reference organism
# (organisms/reference, pretrained on the project's 2-core CPU with torch 2.13.0).
#
#   bash bench/device_pretrain.sh [BUDGET_S]        # in the repository root; default 480 s
#
# Runs with the machine's own python3 (no venv): PYTHONPATH=. and, where `.whl/*.whl` exists,
# those wheels installed to /tmp/site first (the device README's way to carry a missing package).
# The pretraining may run beside a GPU job: THREADS torch threads (default 8) on the cores CPUS
# (default 8-15 where there are 16 cores, else all of them). It stops at BUDGET_S seconds of
# pretraining if the 5,000 steps are not done by then; every reading-probe row it reached (one
# per 250 steps) is compared with the kept organism's, and the first step that differs is the
# portability number. A finished run also compares the weights' sha256 and the acceptance.
# Writes $OUT/pretrain_portability.json (bench/pretrain_portability.py) and $OUT/pretrain.log.
#
# What the pretraining path imports: numpy, pyyaml, jsonschema + referencing (params validation),
# torch, transformers, tokenizers, safetensors, tqdm, jinja2 (chat template), scikit-learn (the
# neighbour probe). The device image's package list (KINDS.md, 2026-11-17) has all but jsonschema,
# referencing, jsonschema-specifications and rpds-py; the script checks before any work and
# names what is missing. To carry them (here, in the repo root that travels):
#   echo /.whl/ >> .git/info/exclude
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
#     --implementation cp --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
#     -d .whl jsonschema==4.26.0 referencing==0.37.0 jsonschema-specifications rpds-py
# and name `.whl` in the run's `carry`.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-$PWD/device_out}
BUDGET_S=${1:-${BUDGET_S:-480}}
THREADS=${THREADS:-8}
if [[ -z ${CPUS:-} ]]; then
    if (($(nproc --all) >= 16)); then CPUS=8-15; else CPUS=0-$(($(nproc --all) - 1)); fi
fi
mkdir -p "$OUT"
PY=${PYTHON:-python3}

if compgen -G ".whl/*.whl" >/dev/null; then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl || exit 1
    export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
export OMP_NUM_THREADS=$THREADS MKL_NUM_THREADS=$THREADS

# Every module the corpus, tokenizer, pretrain and acceptance import, checked before any work.
"$PY" - <<'EOF' || exit 1
import importlib.util, sys
need = ["numpy", "yaml", "jsonschema", "referencing", "torch", "transformers", "tokenizers",
        "safetensors", "tqdm", "jinja2", "sklearn", "scipy"]
missing = [m for m in need if importlib.util.find_spec(m) is None]
if missing:
    sys.exit(f"device_pretrain: missing python modules: {', '.join(missing)} (carry wheels in .whl/)")
EOF

work=$(mktemp -d)
printf 'runtime: {threads: %s}\n' "$THREADS" >"$work/threads.yaml"
stage() { taskset -c "$CPUS" "$PY" -m welfare "$1" --params params.yaml --params "$work/threads.yaml" "${@:2}"; }

start=$(date +%s)
stage corpus --out "$work/corpus" 2>"$work/corpus.log" || { cat "$work/corpus.log"; exit 1; }
stage tokenizer --corpus "$work/corpus" --out "$work/tokenizer" 2>"$work/tokenizer.log" \
    || { cat "$work/tokenizer.log"; exit 1; }
echo "corpus and tokenizer: $(($(date +%s) - start)) s; pretraining for at most ${BUDGET_S} s" \
    "on CPUs $CPUS with $THREADS threads"
# SIGINT first (a KeyboardInterrupt: the log is complete up to there), SIGKILL 20 s later.
timeout --signal=INT --kill-after=20 "$BUDGET_S" \
    taskset -c "$CPUS" "$PY" -m welfare pretrain --params params.yaml --params "$work/threads.yaml" \
    --corpus "$work/corpus" --tokenizer "$work/tokenizer" --out "$work/naive" \
    --metrics "$work/metrics" 2>"$work/pretrain.log"
rc=$?
echo "pretrain exit $rc after $(($(date +%s) - start)) s"
cp "$work/pretrain.log" "$OUT/pretrain.log"
"$PY" bench/pretrain_portability.py --work "$work" --kept organisms/reference \
    --out "$OUT/pretrain_portability.json" --rc "$rc" --budget-s "$BUDGET_S" \
    --threads "$THREADS" --cpus "$CPUS"
