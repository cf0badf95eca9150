"""The last decoder layer at the decision positions only: the policy's one trick for speed.

The policy reads one position per turn (the decision token, `welfare.rl.policy`), and the last
layer's output at any other position feeds nothing but the output head, which is never applied
there. Its keys and values are still needed everywhere (later turns attend to them), but its
queries, attention, output projection and MLP are needed only at the decisions: one position in
~20 in a rollout turn, 15 in ~300 in the update's episodes. On the default organism (2 layers)
that is about two fifths of the work of both.

`last_layer_at_decisions` swaps the model's last block for `_DecisionOnlyBlock` for the duration
of a call, so the model's own decoder (embeddings, masks, rotary tables, every earlier block
with its hooks, the final norm) runs as is; the block writes zeros at every other position. The
swap is refused (the plain block runs) for architectures whose block it does not know, and
whenever the last block carries hooks (steering, activation recording): those expect the full
output. `tests/rl/test_last_layer.py` checks it against the plain forward, values and
gradients, with and without the packed rollout cache.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from welfare.rl.kv import PackedCache, sliding_window

# Pre-norm blocks with q/k/v/o projections, rotate-half RoPE and a gated MLP, the layout
# `_DecisionOnlyBlock` recomputes (Qwen3 adds per-head q/k norms, read when present).
SUPPORTED_MODEL_TYPES = frozenset({"qwen3", "qwen2", "llama", "mistral"})


class _DecisionOnlyBlock(nn.Module):
    """A decoder block that computes keys and values everywhere, the rest at `index` only.

    Decision k of batch row b is input position (rows[b], index[b, k]) (rows None: row b). In
    the rollout the input rows may be segments of the cache's episode rows (`split_turn`); the
    queries then attend to the cache's row b.
    """

    def __init__(self, block: nn.Module, index: torch.Tensor, rows: torch.Tensor | None) -> None:
        super().__init__()
        object.__setattr__(self, "block", block)  # not registered: parameter names stay
        self.index, self.rows = index, rows

    def forward(
        self,
        hidden_states: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        position_embeddings: tuple[torch.Tensor, torch.Tensor] | None = None,
        **kwargs: Any,
    ) -> torch.Tensor:
        block, attn = self.block, self.block.self_attn
        cache = kwargs.get("cache", kwargs.get("past_key_values"))
        assert position_embeddings is not None
        batch, length, _ = hidden_states.shape
        index = self.index.to(hidden_states.device)
        episodes = index.shape[0]
        rows = torch.arange(episodes, device=index.device) if self.rows is None else self.rows
        at = (rows.to(index.device)[:, None].expand_as(index), index)  # [episodes, K] each

        x = block.input_layernorm(hidden_states)
        cos, sin = (t.expand(batch, length, -1) for t in position_embeddings)
        keys = _rope(
            _heads(attn.k_proj(x), attn, "k_norm").transpose(1, 2), cos[:, None], sin[:, None]
        )
        values = _heads(attn.v_proj(x), attn, None).transpose(1, 2)
        queries = _heads(attn.q_proj(x[at]), attn, "q_norm").transpose(1, 2)  # [E, H, K, hd]
        queries = _rope(queries, cos[at][:, None], sin[at][:, None])

        if isinstance(cache, PackedCache):  # rollout: attend to each episode's packed row
            keys, values = cache.write(attn.layer_idx, keys, values)
            assert position_ids is not None
            query_positions = position_ids.to(index.device)[at]  # absolute: [E, K]
            visible = torch.arange(keys.shape[2], device=index.device) <= query_positions[..., None]
        else:  # whole sequences: row b's queries attend to row b
            if cache is not None:
                raise ValueError(
                    f"decision-only last layer: unsupported cache {type(cache).__name__}"
                )
            visible = _visible(attention_mask, index, length)
        out = F.scaled_dot_product_attention(
            queries,
            keys,
            values,
            attn_mask=visible[:, None],
            scale=attn.scaling,
            enable_gqa=queries.shape[1] != keys.shape[1],
        )
        out = attn.o_proj(out.transpose(1, 2).reshape(episodes, index.shape[1], -1))
        residual = hidden_states[at] + out
        decided = residual + block.mlp(block.post_attention_layernorm(residual))
        return hidden_states.new_zeros(hidden_states.shape).index_put(at, decided)


def _heads(projected: torch.Tensor, attn: nn.Module, norm: str | None) -> torch.Tensor:
    """[..., heads · head_dim] → [..., heads, head_dim], with the per-head norm if it has one."""
    heads = projected.view(*projected.shape[:-1], -1, attn.head_dim)
    head_norm = getattr(attn, norm, None) if norm else None
    return head_norm(heads) if head_norm is not None else heads


def _rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    rotated = torch.cat((-x[..., half:], x[..., :half]), dim=-1)
    return x * cos + rotated * sin


def _visible(mask: torch.Tensor | None, index: torch.Tensor, length: int) -> torch.Tensor:
    """[B, K, length]: which keys the query at (b, index[b, k]) sees, from the model's own mask
    (4D bool or additive, 2D padding, or None for plain causal)."""
    if mask is not None and mask.dim() == 4:
        mask = mask.expand(index.shape[0], -1, -1, -1)  # a mask shared by the batch, too
        rows = torch.arange(index.shape[0], device=index.device)[:, None]
        return mask[rows, 0, index.to(mask.device)]
    causal = torch.arange(length, device=index.device) <= index[..., None]
    if mask is None:
        return causal
    return causal & mask.bool()[:, None, :]


def supports_decision_only(model: Any) -> bool:
    """Whether `last_layer_at_decisions` will swap the last block of `model` (see module doc)."""
    config = (
        model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
    )
    if getattr(config, "model_type", None) not in SUPPORTED_MODEL_TYPES:
        return False
    if getattr(config, "_attn_implementation", "sdpa") not in ("sdpa", "eager"):
        return False
    if sliding_window(config) is not None:  # the block attends to everything it is given
        return False
    layers = getattr(model.get_decoder(), "layers", None)
    if layers is None or len(layers) != config.num_hidden_layers:
        return False
    last = layers[-1]
    # Forward hooks, or accelerate's dispatch hook (`_hf_hook`: a `device_map` placement that
    # moves the block's inputs), expect the block's own forward to run.
    hooked = any(
        module._forward_hooks or module._forward_pre_hooks or hasattr(module, "_hf_hook")
        for module in (last, *last.modules())
    )
    return not hooked


@contextmanager
def last_layer_at_decisions(
    model: Any, index: torch.Tensor, rows: torch.Tensor | None = None, enabled: bool = True
) -> Iterator[bool]:
    """Within the block, the model's last layer computes its output only at the positions
    (rows[b] or b, index[b, k]); every other position of its output is zero. Yields whether the
    swap happened (unsupported models and hooked last blocks run unchanged)."""
    if not (enabled and supports_decision_only(model)):
        yield False
        return
    layers = model.get_decoder().layers
    last = layers[-1]
    layers[-1] = _DecisionOnlyBlock(last, index, rows)
    try:
        yield True
    finally:
        layers[-1] = last
