"""One loader for the organism and for any Hugging Face causal LM.

`load_model(path_or_id, runtime, lora)` takes a local HF directory (the organism in `models/naive/`,
a maze-trained checkpoint, a downloaded Qwen3-4B) or a hub id, read from the local HF cache only:
nothing is downloaded unless HF_HUB_OFFLINE=0 (`welfare` sets it from `allow_downloads` in params),
loads safetensors weights only, applies `params.runtime` (device, dtype, trust_remote_code,
threads) and optionally wraps the model in a peft LoRA adapter. The tokenizer must fit the model
and the maze: a chat template, no token id beyond the embedding matrix, and N/E/S/W as single
tokens, or loading stops with a one-line `ModelLoadError` naming what is wrong.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

# Re-exported: `welfare.model.ModelLoadError` and friends are what callers import.
from welfare.lm import ModelLoadError, check_tokenizer, direction_token_ids

log = logging.getLogger(__name__)

__all__ = [
    "ModelLoadError",
    "check_tokenizer",
    "direction_token_ids",
    "load_model",
    "resolve_device",
    "wrap_lora",
]

# "owner/name" (optionally "name" alone): what a hub id looks like, as opposed to a local path.
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*(/[\w.\-]+)?$")
_SAFETENSORS_FILES = ("model.safetensors", "model.safetensors.index.json")
_ADAPTER_FILES = ("adapter_model.safetensors",)
# The schema's defaults (workflow/schemas/train.schema.yaml `lora`, runtime.schema.yaml;
# tests/test_defaults.py holds them equal): what a key missing from a partial dict means.
# Validated params hold every key; tests and benchmarks pass partial dicts.
LORA_DEFAULTS: dict[str, Any] = {
    "rank": 32,
    "alpha": 64,
    "dropout": 0.0,
    "top_layers": 0,
    "target_modules": "all-linear",
}
RUNTIME_DEFAULTS: dict[str, Any] = {
    "device": "auto",
    "dtype": "float32",
    "threads": 0,
    "trust_remote_code": False,
}


def downloads_allowed() -> bool:
    """Only where HF_HUB_OFFLINE is set to a false value (unset: offline)."""
    return os.environ.get("HF_HUB_OFFLINE", "1").strip().lower() in ("0", "false", "no", "off")


def resolve_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ModelLoadError("runtime.device: cuda requested but torch sees no CUDA device")
    return device


def _resolve_dtype(dtype: str) -> Any:
    import torch

    return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[dtype]


def _source(path_or_id: str | Path) -> tuple[str, bool]:
    """Return (what to pass to from_pretrained, whether it is a local directory)."""
    path = Path(path_or_id).expanduser()
    if path.is_dir():
        if not any((path / name).exists() for name in _SAFETENSORS_FILES + _ADAPTER_FILES):
            raise ModelLoadError(
                f"{path}: no safetensors weights (model.safetensors[.index.json]); "
                "pickled .bin weights are refused"
            )
        return str(path), True
    text = str(path_or_id)
    looks_local = (
        isinstance(path_or_id, Path) or text.startswith((".", "/", "~")) or text.count("/") > 1
    )
    if looks_local or not _HUB_ID.match(text):
        raise ModelLoadError(f"{text}: no such model directory")
    return text, False


def _lora_config(lora: Mapping[str, Any], model: Any) -> Any:
    """peft's LoraConfig of a validated `train.lora` (rank, alpha, dropout, target_modules,
    top_layers: adapters on the top N decoder blocks only, 0 for every block)."""
    import torch
    from peft import LoraConfig

    lora = LORA_DEFAULTS | dict(lora)
    target = lora["target_modules"]
    top = int(lora["top_layers"])
    layers = model.get_decoder().layers
    if top > len(layers):
        raise ModelLoadError(f"train.lora.top_layers: {top} but the model has {len(layers)} layers")
    if top and target == "all-linear":  # peft takes a layer subset only with named modules
        target = sorted(
            {
                n.rsplit(".", 1)[-1]
                for n, m in layers[0].named_modules()
                if isinstance(m, torch.nn.Linear)
            }
        )
    return LoraConfig(
        r=int(lora["rank"]),
        lora_alpha=float(lora["alpha"]),
        lora_dropout=float(lora["dropout"]),
        target_modules=target if isinstance(target, str) else list(target),
        layers_to_transform=list(range(len(layers) - top, len(layers))) if top else None,
        task_type="CAUSAL_LM",
    )


def wrap_lora(model: Any, lora: Mapping[str, Any], seed: int = 0) -> Any:
    """`model` in a fresh trainable peft LoRA adapter (`train.lora`: rank, alpha, dropout,
    target_modules, top_layers). peft draws the A matrices from torch's global generator; they
    are drawn here from `seed` (the global state is left as it was), so the same seed gives
    the same adapter and the same run."""
    import torch
    from peft import get_peft_model

    config = _lora_config(lora, model)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return get_peft_model(model, config)


def load_model(
    path_or_id: str | Path,
    runtime: Mapping[str, Any],
    lora: Mapping[str, Any] | None = None,
    seed: int = 0,
) -> tuple[Any, Any]:
    """Load `(model, tokenizer)` from a local HF directory or a hub id.

    `runtime` is `params["runtime"]` (device auto/cpu/cuda, dtype, trust_remote_code, threads).
    `lora` (rank, alpha, dropout, target_modules; default all linear layers as in the paper) wraps
    the model in a fresh trainable peft adapter initialised from `seed`. A directory holding a
    saved adapter (adapter_config.json) is loaded as base + adapter. The model is returned in
    eval mode.
    """
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    source, local = _source(path_or_id)
    runtime = RUNTIME_DEFAULTS | dict(runtime)
    threads = int(runtime["threads"] or 0)
    if threads > 0:
        torch.set_num_threads(threads)
    device = resolve_device(str(runtime["device"]))
    dtype = _resolve_dtype(str(runtime["dtype"]))
    trust = bool(runtime["trust_remote_code"])
    common: dict[str, Any] = {
        "trust_remote_code": trust,
        "local_files_only": local or not downloads_allowed(),
    }
    adapter = local and (Path(source) / "adapter_config.json").exists()
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, **common)
        if adapter:
            from peft import AutoPeftModelForCausalLM

            model = AutoPeftModelForCausalLM.from_pretrained(
                source, dtype=dtype, use_safetensors=True, **common
            )
        else:
            # Check the tokenizer against the config before reading (possibly GBs of) weights.
            config = AutoConfig.from_pretrained(source, **common)
            check_tokenizer(tokenizer, getattr(config, "vocab_size", None))
            model = AutoModelForCausalLM.from_pretrained(
                source, config=config, dtype=dtype, use_safetensors=True, **common
            )
    except ModelLoadError as exc:
        if str(exc).startswith(source):
            raise
        raise ModelLoadError(f"{source}: {exc}") from exc
    except Exception as exc:  # HF and safetensors raise many types for a damaged directory
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        where = (
            "local directory"
            if local
            else "hub id (needs network or a cached copy)"
            if downloads_allowed()
            else "hub id: not in the local HF cache and downloads are off "
            "(allow_downloads: true in params, or a local directory)"
        )
        raise ModelLoadError(f"{source}: cannot load as a {where}: {first}") from exc
    if tokenizer.pad_token is None:
        # Batched rollouts pad; reuse EOS rather than growing the vocabulary.
        tokenizer.pad_token = tokenizer.eos_token
    check_tokenizer(tokenizer, model.get_input_embeddings().num_embeddings)
    model.to(device)
    if lora is not None:
        model = wrap_lora(model, lora, seed)
    model.eval()
    log.info("loaded %s on %s (%s, %d parameters)", source, device, dtype, _n_params(model))
    return model, tokenizer


def _n_params(model: Any) -> int:
    return sum(p.numel() for p in model.parameters())
