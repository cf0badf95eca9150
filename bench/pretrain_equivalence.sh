#!/usr/bin/env bash
# Does a change to pretraining leave its results bit for bit? Pretrain the short overlays
# (bench/overlays/pretrain_short*.yaml: every phase, probes, a restart, resume states, acceptance)
# with the code of two trees and compare what they wrote: model.safetensors, organism.json,
# acceptance.json, and pretrain.json / pretrain.tsv / reading_probe.tsv less their wall times.
#
#   bench/pretrain_equivalence.sh OLD_TREE NEW_TREE WORKDIR
#
# OLD_TREE, NEW_TREE: checkouts of the package (PYTHONPATH); WORKDIR: holds data/corpus (the
# default corpus, `welfare corpus --out WORKDIR/data/corpus`) and gets one output folder per tree
# and overlay. The tokenizer is the kept organism's (organisms/reference). Exit 1 on a difference.
# KEEP_OLD=1 reuses the old tree's outputs of an earlier call (the old code does not change).
set -euo pipefail
old=$(realpath "$1") new=$(realpath "$2") work=$(realpath "$3")
here=$(cd "$(dirname "$0")/.." && pwd)
tokenizer="$here/organisms/reference"
overlays=("pretrain_short" "pretrain_short_curriculum")
run() {  # tree name overlay-params...
  local tree=$1 name=$2; shift 2
  rm -rf "$work/$name"
  mkdir -p "$work/$name"
  (cd "$tree" && PYTHONPATH="$tree" nice -n 19 welfare pretrain --params "$tree/params.yaml" "$@" \
    --corpus "$work/data/corpus" --tokenizer "$tokenizer" --out "$work/$name/model" \
    --metrics "$work/$name/metrics" > "$work/$name/log" 2>&1)
}
digest() {  # the run's results less wall times
  local dir=$1
  sha256sum "$dir/model/model.safetensors" "$dir/model/organism.json" "$dir/metrics/acceptance.json" | cut -d' ' -f1
  python3 - "$dir/metrics" <<'PY'
import csv, hashlib, json, sys
from pathlib import Path
m = Path(sys.argv[1])
summary = json.loads((m / "pretrain.json").read_text())
for key in ("wall_s", "tokens_per_s"):
    summary.pop(key)
if summary.get("reading_probe"):
    summary["reading_probe"].pop("elapsed_s")
print(hashlib.sha256(json.dumps(summary, sort_keys=True).encode()).hexdigest())
for name in ("pretrain.tsv", "reading_probe.tsv"):
    rows = list(csv.DictReader((m / name).read_text().splitlines(), delimiter="\t"))
    kept = [{k: v for k, v in r.items() if k != "elapsed_s"} for r in rows]
    print(hashlib.sha256(json.dumps(kept).encode()).hexdigest())
PY
}
status=0
for overlay in "${overlays[@]}"; do
  params=("--params" "$here/bench/overlays/pretrain_short.yaml")
  [ "$overlay" = pretrain_short ] || params+=("--params" "$here/bench/overlays/$overlay.yaml")
  start=$(date +%s)
  if [ "${KEEP_OLD:-0}" != 1 ] || [ ! -f "$work/old-$overlay/metrics/acceptance.json" ]; then
    run "$old" "old-$overlay" "${params[@]}"
  fi
  mid=$(date +%s)
  run "$new" "new-$overlay" "${params[@]}"
  end=$(date +%s)
  a=$(digest "$work/old-$overlay") b=$(digest "$work/new-$overlay")
  echo "$overlay: old $((mid - start)) s, new $((end - mid)) s"
  paste <(echo "$a") <(echo "$b") | while read -r x y; do
    echo "  ${x:0:16} ${y:0:16} $([ "$x" = "$y" ] && echo same || echo DIFFERENT)"
  done
  [ "$a" = "$b" ] || status=1
done
[ $status = 0 ] && echo "bit for bit: same" || echo "bit for bit: DIFFERENT"
exit $status
