"""Logit lens of a vector (docs/protocol.md §4.3): its image through the unembedding, with and
without the model's final norm (the paper does not say which; both are reported)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class LensReadout:
    promoted: list[tuple[str, float]]
    suppressed: list[tuple[str, float]]


def final_norm(model: Any) -> Any | None:
    """The norm applied before the LM head (`model.model.norm` for Llama/Qwen3), if any."""
    decoder = model.get_decoder() if hasattr(model, "get_decoder") else None
    for owner in (decoder, getattr(model, "model", None)):
        norm = getattr(owner, "norm", None)
        if norm is not None:
            return norm
    return None


def vector_logits(model: Any, vector: np.ndarray, apply_norm: bool) -> np.ndarray:
    """W_U · v (optionally W_U · norm(v)) as float64 (vocab,)."""
    import torch

    head = model.get_output_embeddings().weight
    v = torch.as_tensor(vector, dtype=head.dtype, device=head.device)
    with torch.no_grad():
        if apply_norm:
            norm = final_norm(model)
            if norm is None:
                raise ValueError("the model has no final norm to apply")
            v = norm(v[None, None, :])[0, 0]
        return (head @ v).double().cpu().numpy()


def logit_lens(
    model: Any, tokenizer: Any, vector: np.ndarray, top_k: int, apply_norm: bool
) -> LensReadout:
    logits = vector_logits(model, vector, apply_norm)
    order = np.argsort(logits)
    tokens = tokenizer.convert_ids_to_tokens

    def pick(ids: np.ndarray) -> list[tuple[str, float]]:
        return [(str(tokens(int(i))), float(logits[i])) for i in ids]

    return LensReadout(promoted=pick(order[::-1][:top_k]), suppressed=pick(order[:top_k]))
