"""What the steering and tracking runners share: the tile mapping they read, CPU threads, and
loading (and releasing) a model for evaluation."""

from __future__ import annotations

import gc
from collections.abc import Mapping
from typing import Any

import torch

from welfare.io import InputError
from welfare.model import load_model


def resolve_mapping(params: Mapping[str, Any], organism: str | None, mapping: str | None) -> str:
    """`mapping`, else the `organism`'s row's mapping; an unknown organism or mapping, or
    neither given, is an InputError (one line), never a silent fallback."""
    organisms, mappings = params["organisms"], params["mappings"]
    if organism and organism not in organisms:
        raise InputError(
            f"--organism {organism!r}: not in params.organisms "
            f"(has: {', '.join(sorted(organisms)) or 'none'})"
        )
    name = mapping or (organisms[organism]["mapping"] if organism else None)
    if name is None:
        raise InputError("no tile mapping: pass --organism (its row's mapping) or --mapping")
    if name not in mappings:
        raise InputError(f"mapping {name!r}: not in params.mappings (has: {', '.join(mappings)})")
    return name


def set_threads(threads: int) -> None:
    """`runtime.threads` CPU threads for torch (0: torch's default)."""
    if threads:
        torch.set_num_threads(threads)


def load_for_eval(path: str, runtime: Mapping[str, Any]) -> tuple[Any, Any]:
    """A model in eval mode and its tokenizer, placed as `runtime` says."""
    model, tokenizer = load_model(path, runtime)
    model.eval()
    return model, tokenizer


def release_memory() -> None:
    """Release memory of models the caller has already `del`eted (GPU cache included)."""
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
