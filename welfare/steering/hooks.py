"""The steering context manager: add a vector to block outputs on chosen absolute positions.

Positions are absolute indices in the (left-padded) token sequence. Under KV-cached generation
each forward call sees only the new tokens; the offset of those tokens is read from the cache
(`cache.get_seq_length()`) by a pre-hook on the module that owns the blocks, before any block
updates it. Positions inside the prompt follow `mask`; positions past it are generated tokens,
which are assistant-turn tokens and are steered (`steer_generated`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from welfare.steering.layers import find_decoder_stack

# (offset, batch, length) -> (batch, length) bool mask of the current forward call, or None for
# "every position". For callers that know their chunks better than a prompt mask does (the maze
# rollout feeds right-padded turn chunks; see `welfare.steering.maze_eval`).
MaskFn = Callable[[int, int, int], "torch.Tensor | None"]


@dataclass
class _PositionState:
    """Shared by the hooks of one steering block: where the current forward call starts."""

    mask: torch.Tensor | None  # (batch, prompt_len) bool, or None = every position
    steer_generated: bool
    offset: int = 0
    _device_masks: dict[torch.device, torch.Tensor] = field(default_factory=dict)

    mask_fn: MaskFn | None = None

    def positions_mask(self, batch: int, length: int, device: torch.device) -> torch.Tensor | None:
        """(batch, length) bool mask of the current call; None when every position is steered."""
        if self.mask_fn is not None:
            fn_mask = self.mask_fn(self.offset, batch, length)
            return None if fn_mask is None else fn_mask.to(device)
        if self.mask is None:
            return None
        prompt_len = self.mask.shape[1]
        if self.mask.shape[0] != batch:
            raise ValueError(f"steering mask has batch {self.mask.shape[0]}, the model got {batch}")
        start, stop = self.offset, self.offset + length
        if start >= prompt_len and self.steer_generated:
            return None  # decoding past the prompt: every new token is an assistant token
        mask = self._device_masks.get(device)
        if mask is None:
            mask = self._device_masks[device] = self.mask.to(device)
        inside = mask[:, start : min(stop, prompt_len)]
        if stop > prompt_len:
            tail = torch.full(
                (batch, stop - max(start, prompt_len)), self.steer_generated, device=device
            )
            inside = torch.cat([inside, tail], dim=1)
        return inside


def _cache_length(kwargs: Mapping[str, Any]) -> int:
    cache = kwargs.get("cache", kwargs.get("past_key_values"))
    if cache is None or not hasattr(cache, "get_seq_length"):
        return 0
    return int(cache.get_seq_length())


@contextmanager
def steering(
    model: nn.Module,
    additions: Mapping[int, torch.Tensor],
    mask: torch.Tensor | MaskFn | None = None,
    steer_generated: bool = True,
) -> Iterator[None]:
    """Add `additions[l]` (a (d_model,) vector, already scaled: α·v) to the output of block l.

    mask: (batch, prompt_len) bool in absolute positions (`EncodedChats.steer_mask`); None steers
    every position; a callable gives the mask of each forward call itself (`MaskFn`). Positions
    ≥ prompt_len (generated tokens) are steered iff `steer_generated`.
    All-zero additions register no hook at all, so α = 0 is bitwise the unsteered model. Hooks
    are removed when the block exits, also on exceptions.
    """
    active = {int(layer): vec for layer, vec in additions.items() if bool(torch.any(vec != 0))}
    if not active:
        yield
        return
    stack = find_decoder_stack(model)
    n_layers = len(stack.blocks)
    for layer in active:
        if not 0 <= layer < n_layers:
            raise IndexError(f"layer {layer} out of range for a {n_layers}-block model")
    if callable(mask):
        state = _PositionState(mask=None, steer_generated=steer_generated, mask_fn=mask)
    else:
        prompt_mask = None if mask is None else mask.bool()
        state = _PositionState(mask=prompt_mask, steer_generated=steer_generated)

    def record_offset(_module: nn.Module, _args: tuple, kwargs: dict) -> None:
        state.offset = _cache_length(kwargs)

    def make_hook(vector: torch.Tensor):
        cast: dict[tuple[torch.device, torch.dtype], torch.Tensor] = {}

        def add(_module: nn.Module, _args: tuple, output: Any) -> Any:
            hidden = output[0] if isinstance(output, tuple) else output
            key = (hidden.device, hidden.dtype)
            vec = cast.get(key)
            if vec is None:
                vec = cast[key] = vector.to(device=hidden.device, dtype=hidden.dtype)
            positions = state.positions_mask(hidden.shape[0], hidden.shape[1], hidden.device)
            if positions is None:
                steered = hidden + vec
            else:
                # A new tensor, never in place (callers may hold block outputs); `where` keeps
                # unsteered positions bit-for-bit.
                steered = torch.where(positions.unsqueeze(-1), hidden + vec, hidden)
            if isinstance(output, tuple):
                return (steered, *output[1:])
            return steered

        return add

    handles = [stack.body.register_forward_pre_hook(record_offset, with_kwargs=True)]
    try:
        for layer, vec in active.items():
            handles.append(stack.blocks[layer].register_forward_hook(make_hook(vec.detach())))
        yield
    finally:
        for handle in handles:
            handle.remove()
