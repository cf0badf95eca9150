"""The organism's architecture: a Qwen3 config whose sizes are `params.pretrain.model`."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

# Written by `welfare pretrain` next to the weights: it marks a directory as one of this
# pipeline's organisms (organism-scale evaluation), whatever its path.
ORGANISM_MARKER = "organism.json"


def is_organism_dir(path: str | Path) -> bool:
    """True for a model directory that `welfare pretrain` wrote (e.g. a kept organism)."""
    return (Path(path) / ORGANISM_MARKER).is_file()


def organism_config(model: Mapping[str, Any], tokenizer: Any) -> Any:
    """A `Qwen3Config` for `tokenizer` (vocabulary rounded up to a multiple of 64)."""
    from transformers import Qwen3Config

    vocab = -(-len(tokenizer) // 64) * 64
    return Qwen3Config(
        vocab_size=vocab,
        hidden_size=int(model["hidden_size"]),
        intermediate_size=int(model["intermediate_size"]),
        num_hidden_layers=int(model["num_layers"]),
        num_attention_heads=int(model["num_heads"]),
        num_key_value_heads=int(model["num_kv_heads"]),
        head_dim=int(model["head_dim"]),
        max_position_embeddings=int(model["max_position_embeddings"]),
        rope_theta=float(model["rope_theta"]),
        tie_word_embeddings=True,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=None,
    )


def build_organism(model: Mapping[str, Any], tokenizer: Any, seed: int) -> Any:
    import torch
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    return AutoModelForCausalLM.from_config(organism_config(model, tokenizer))
