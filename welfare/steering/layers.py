"""The decoder blocks of a causal LM and the module that runs them (it receives the KV cache)."""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from welfare.activations.blocks import find_decoder_blocks


@dataclass(frozen=True)
class DecoderStack:
    body: nn.Module  # owner of the block list: its forward gets the cache before any block runs
    blocks: nn.ModuleList


def find_decoder_stack(model: nn.Module) -> DecoderStack:
    blocks = find_decoder_blocks(model)
    for module in model.modules():
        if any(child is blocks for child in module.children()):
            return DecoderStack(body=module, blocks=blocks)
    raise ValueError(f"decoder blocks of {type(model).__name__} have no owning module")
