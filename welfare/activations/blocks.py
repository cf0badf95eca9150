"""Locate the decoder blocks of a causal LM, whatever wraps it (peft, a `*ForCausalLM` head)."""

from __future__ import annotations

from typing import Any


def find_decoder_blocks(model: Any) -> Any:
    """Return the `nn.ModuleList` of decoder blocks (block `l`'s output is the residual stream).

    Looks for the ModuleList whose length is `config.num_hidden_layers`; for Llama, Qwen3, Mistral,
    GPT-OSS and their peft wrappers this is `model.model.layers`. Raises ValueError otherwise, so a
    new architecture fails loudly instead of hooking the wrong modules.
    """
    import torch.nn as nn

    config = getattr(model, "config", None)
    n_layers = getattr(config, "num_hidden_layers", None)
    if n_layers is None:
        raise ValueError("model has no config.num_hidden_layers; cannot find its decoder blocks")
    candidates = [
        (name, module)
        for name, module in model.named_modules()
        if isinstance(module, nn.ModuleList) and len(module) == n_layers
    ]
    # The shortest name is the outermost list (peft nests the same list under longer names).
    candidates.sort(key=lambda item: len(item[0]))
    for name, module in candidates:
        if name.endswith("layers") or name.endswith(".h") or name.endswith("blocks"):
            return module
    if candidates:
        return candidates[0][1]
    name = type(model).__name__
    raise ValueError(f"no nn.ModuleList of {n_layers} decoder blocks found in {name}")


def block_output_tensor(output: Any) -> Any:
    """The hidden-state tensor of a block's output: a tensor, or the first item of a tuple."""
    import torch

    if torch.is_tensor(output):
        return output
    if isinstance(output, (tuple, list)) and output and torch.is_tensor(output[0]):
        return output[0]
    raise TypeError(f"unexpected decoder block output of type {type(output).__name__}")
