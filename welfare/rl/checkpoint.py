"""Checkpoints: `models/{organism}/step-NNNN/`, each a loadable HF directory plus training state.

Layout of one checkpoint directory:

- the model (safetensors): full weights under full fine-tuning; under LoRA either merged weights
  (`format: merged`, loadable as a plain model) with the adapter kept in `adapter/` for resuming,
  or the peft adapter alone (`format: adapter`, loadable with `welfare.model.load_model`);
- the tokenizer files;
- `trainer_state.pt`: step, optimizer and LR-scheduler state (tensors and plain containers only,
  read back with ``weights_only=True``). Sampling and maze seeds derive from (seed, step), so no
  RNG state needs saving for an exact resume.
- `run.json`: the run's fingerprint (`TrainConfig.fingerprint`): a checkpoint is resumed only
  by a run with the same params and base model; others are set aside in `stale-0/` (only the
  latest set is kept), never continued;
- `curves/train.tsv`, `curves/eval.tsv`: the metrics rows up to this step, so a resumed run
  rebuilds the full curves even when the TSVs were deleted (Snakemake removes a failed job's
  outputs).

Everything is written to a temporary sibling and renamed (`welfare.io.atomic_path`), so a
directory named `step-NNNN` is always complete.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import torch

from welfare.io import atomic_path
from welfare.rl.metrics import MetricsLog

STATE_FILE = "trainer_state.pt"
RUN_FILE = "run.json"
ADAPTER_DIR = "adapter"
CURVES_DIR = "curves"
_STEP_DIR = re.compile(r"^step-(\d+)$")


def step_dir(out: Path, step: int) -> Path:
    return out / f"step-{step:04d}"


def is_peft(model: Any) -> bool:
    return hasattr(model, "peft_config")


def save_model_dir(path: Path, model: Any, tokenizer: Any, fmt: str) -> None:
    """Write `model` (merged or adapter, for LoRA) and its tokenizer as an HF directory."""
    if is_peft(model):
        if fmt == "adapter":
            model.save_pretrained(path, safe_serialization=True)
        else:
            merged = copy.deepcopy(model).merge_and_unload()
            merged.save_pretrained(path, safe_serialization=True)
            model.save_pretrained(path / ADAPTER_DIR, safe_serialization=True)
    else:
        model.save_pretrained(path, safe_serialization=True)
    tokenizer.save_pretrained(path)


def save_checkpoint(
    path: Path,
    model: Any,
    tokenizer: Any,
    fmt: str,
    step: int,
    optimizer: torch.optim.Optimizer | None,
    scheduler: Any | None,
    extra: dict[str, Any] | None = None,
    fingerprint: str = "",
    curves: tuple[MetricsLog, ...] = (),
) -> None:
    """Atomically write checkpoint `path` after `step` completed steps (with the `curves`)."""
    with atomic_path(path) as tmp:
        save_model_dir(tmp, model, tokenizer, fmt)
        for curve in curves:
            curve.write(tmp / CURVES_DIR / curve.path.name)
        (tmp / RUN_FILE).write_text(json.dumps({"fingerprint": fingerprint, "step": step}) + "\n")
        state = {
            "step": step,
            "optimizer": optimizer.state_dict() if optimizer is not None else None,
            "scheduler": scheduler.state_dict() if scheduler is not None else None,
            "extra": json.dumps(extra or {}),
        }
        torch.save(state, tmp / STATE_FILE)


def latest_checkpoint(out: Path) -> Path | None:
    """The complete `step-NNNN` directory with the highest step, if any."""
    found = []
    for child in out.glob("step-*"):
        match = _STEP_DIR.match(child.name)
        if match and (child / STATE_FILE).exists():
            found.append((int(match.group(1)), child))
    return max(found)[1] if found else None


def checkpoint_fingerprint(path: Path) -> str | None:
    """The fingerprint of the run that wrote checkpoint `path` (None: written before they were)."""
    run = path / RUN_FILE
    return json.loads(run.read_text()).get("fingerprint") if run.exists() else None


def set_aside_checkpoints(out: Path) -> Path:
    """Move every `step-NNNN` of `out` into `out/stale-0/` (kept for a look, never resumed),
    replacing the sets aside before it: they do not pile up over param changes."""
    import shutil

    for old in out.glob("stale-*"):
        shutil.rmtree(old)
    stale = out / "stale-0"
    stale.mkdir()
    for child in sorted(out.glob("step-*")):
        child.rename(stale / child.name)
    return stale


def model_identity(base: str | Path) -> str:
    """A cheap identity of a base model: its safetensors files' names and sizes, and their bytes
    up to 64 MB each (an organism's weights; a paper-scale shard adds its mtime instead), or a
    hub id as it is."""
    path = Path(base)
    if not path.is_dir():
        return str(base)
    digest = hashlib.sha256()
    for file in sorted(path.glob("*.safetensors")):
        stat = file.stat()
        digest.update(f"{file.name}:{stat.st_size}".encode())
        if stat.st_size <= 64 << 20:
            digest.update(file.read_bytes())
        else:
            digest.update(str(stat.st_mtime_ns).encode())
    return digest.hexdigest()[:16]


def restore_checkpoint(
    path: Path,
    model: Any,
    optimizer: torch.optim.Optimizer | None,
    scheduler: Any | None,
) -> tuple[int, dict[str, Any]]:
    """Load weights and optimizer/scheduler state of `path` into live objects; return the step."""
    _load_weights(path, model)
    state = torch.load(path / STATE_FILE, map_location="cpu", weights_only=True)
    if optimizer is not None and state["optimizer"] is not None:
        optimizer.load_state_dict(state["optimizer"])
    if scheduler is not None and state["scheduler"] is not None:
        scheduler.load_state_dict(state["scheduler"])
    return int(state["step"]), json.loads(state["extra"])


def _load_weights(path: Path, model: Any) -> None:
    from safetensors.torch import load_file

    if is_peft(model):
        from peft import set_peft_model_state_dict

        adapter = path / ADAPTER_DIR if (path / ADAPTER_DIR).exists() else path
        result = set_peft_model_state_dict(model, load_file(adapter / "adapter_model.safetensors"))
        if getattr(result, "unexpected_keys", None):
            raise ValueError(f"{adapter}: unexpected adapter keys {result.unexpected_keys[:3]}")
        return
    weights: dict[str, torch.Tensor] = {}
    index = path / "model.safetensors.index.json"
    files = (
        sorted(set(json.loads(index.read_text())["weight_map"].values()))
        if index.exists()
        else ["model.safetensors"]
    )
    for name in files:
        weights.update(load_file(path / name))
    missing, unexpected = model.load_state_dict(weights, strict=False)
    tied = set(getattr(model, "_tied_weights_keys", None) or [])
    if unexpected or set(missing) - tied:
        raise ValueError(
            f"{path}: weights do not fit the model (missing {missing[:3]}, "
            f"unexpected {unexpected[:3]})"
        )
