"""Locate the decoder blocks of a Hugging Face causal LM (plain, PEFT-wrapped or custom)."""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn


@dataclass(frozen=True)
class DecoderStack:
    """The module that runs the blocks (receives the KV cache) and the blocks themselves."""

    body: nn.Module
    blocks: nn.ModuleList


def find_decoder_stack(model: nn.Module) -> DecoderStack:
    """Return the block list with `config.num_hidden_layers` entries and its owning module.

    Works for `*ForCausalLM` (`model.model.layers`), PEFT wrappers (extra nesting) and GPT-2 style
    `transformer.h`, by searching for the ModuleList of the configured depth instead of a path.
    """
    n_layers = getattr(getattr(model, "config", None), "num_hidden_layers", None)
    for _name, module in model.named_modules():
        for child_name, child in module.named_children():
            is_blocks = isinstance(child, nn.ModuleList) and child_name in ("layers", "h", "blocks")
            if is_blocks and (n_layers is None or len(child) == n_layers):
                return DecoderStack(body=module, blocks=child)
    raise ValueError(f"no decoder block list found in {type(model).__name__}")
