#!/usr/bin/env bash
# The GPU check: run from the repo root on a CUDA machine (python3 there; the package need not be
# installed — pytest's pythonpath=["."] in pyproject.toml finds `welfare`). Prints the devices and
# versions, runs tests/gpu (CPU and CUDA variants), tees the log to "$OUT/gpu_tests.log" when $OUT
# is set, and exits with pytest's status. Needs: torch (CUDA build), transformers, peft, tokenizers,
# numpy, pyyaml, pytest. Optional: zarr + dask (the activation-store test skips without them).
set -u
cd "$(dirname "$0")/.."
export PYTHONPATH=".${PYTHONPATH:+:$PYTHONPATH}"
export TOKENIZERS_PARALLELISM=false HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1

nvidia-smi -L || echo "nvidia-smi: not available"
python3 - <<'PY'
import torch, transformers
print(f"torch {torch.__version__} (cuda {torch.version.cuda}), transformers {transformers.__version__}")
print(f"cuda available: {torch.cuda.is_available()}",
      torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")
for name in ("peft", "zarr", "dask", "jsonschema"):
    try:
        module = __import__(name)
        print(f"{name} {getattr(module, '__version__', '?')}")
    except ImportError:
        print(f"{name}: not installed")
PY

cmd=(python3 -m pytest tests/gpu -q -rs -p no:cacheprovider)
if [ -n "${OUT:-}" ]; then
    mkdir -p "$OUT"
    "${cmd[@]}" 2>&1 | tee "$OUT/gpu_tests.log"
    status=${PIPESTATUS[0]}
else
    "${cmd[@]}"
    status=$?
fi
exit "$status"
