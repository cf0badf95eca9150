"""The policy: a causal LM's next-token distribution restricted to the four direction tokens.

Only the hidden states at decision positions go through the output head, and only the four
direction rows of it matter, so neither rollouts nor the update ever build a
[batch, length, vocab] logits tensor (150k-token vocabularies at paper scale).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch

# head_logits and right_pad live in welfare.lm (pretraining shares them); imported here by
# name for the rest of rl/.
from welfare.lm import direction_token_ids, head_logits, right_pad
from welfare.rl.last_layer import last_layer_at_decisions
from welfare.rl.prefix import fit_width, replay_prefix


def direction_ids(tokenizer: Any) -> list[int]:
    """Token ids of N, E, S, W in that order (each must be a single token)."""
    ids = direction_token_ids(tokenizer)
    return [ids[d] for d in ("N", "E", "S", "W")]


def hidden_states(
    model: Any,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor | None,
    position_ids: torch.Tensor,
    cache: Any | None = None,
) -> torch.Tensor:
    """Last-layer hidden states [batch, length, d] (the decoder only, no output head)."""
    decoder = model.get_decoder()
    with adapter_autocast(model):
        out = decoder(
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            use_cache=cache is not None,
            **{cache_keyword(decoder): cache},
        )
    return out.last_hidden_state


def adapter_compute_dtype(model: Any) -> torch.dtype | None:
    """The dtype a LoRA model's float32 adapters should compute in: its base weights' bf16 or
    fp16; None for a model without adapters, or whose adapters share the base's dtype."""
    if not hasattr(model, "peft_config"):
        return None
    base = model.get_input_embeddings().weight.dtype
    if base not in (torch.bfloat16, torch.float16):
        return None
    adapters = (p for name, p in model.named_parameters() if "lora_" in name)
    return base if any(p.dtype == torch.float32 for p in adapters) else None


@contextmanager
def adapter_autocast(model: Any) -> Iterator[None]:
    """Mixed precision for LoRA on a bf16 / fp16 base: the adapters' float32 weights stay the
    optimizer's master copy, their products run in the base's dtype.

    peft keeps adapters in float32 and casts every adapted layer's input to float32 for them:
    at Qwen3-4B's size that is float32 matrix products (an order of magnitude below bf16 on a
    GPU) and a float32 copy of every layer input saved for the backward pass (a third of the
    update's activation memory, measured in bench/gpu_paper_scale.md). Under autocast, with
    peft's input cast off, both run in the base's dtype. Float32 models are not touched.
    """
    dtype = adapter_compute_dtype(model)
    if dtype is None:
        yield
        return
    from peft.helpers import disable_input_dtype_casting

    device = model.get_input_embeddings().weight.device.type
    with torch.autocast(device, dtype=dtype), disable_input_dtype_casting(model):
        yield


def cache_keyword(module: Any) -> str:
    """The name a model's forward takes its KV cache by: `cache` from transformers 5.2x on,
    `past_key_values` before. Passing the wrong one is silently swallowed by `**kwargs` (the
    model then runs without the cache), so it is looked up, never guessed."""
    import inspect

    parameters = inspect.signature(module.forward).parameters
    return "cache" if "cache" in parameters else "past_key_values"


def gather_positions(hidden: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """hidden[b, index[b, k]] for every b, k: [batch, k, d]."""
    return hidden.gather(1, index[..., None].expand(*index.shape, hidden.shape[-1]))


def decision_logits(
    model: Any,
    sequences: Sequence[Sequence[int]],
    decision_index: torch.Tensor,
    pad_id: int,
    token_ids: Sequence[int] | None,
    decisions_only: bool = True,
    prefix: torch.Tensor | None = None,
    prefix_start: int = 0,
) -> torch.Tensor:
    """One forward over whole episodes: logits at each decision position, [batch, turns, k].

    The update's forward (with gradients when enabled). With `decisions_only` the last layer
    runs at the decision positions only (`welfare.rl.last_layer`); without it, this is the plain
    model call, the re-encoding reference of the equivalence tests. With `prefix` (the rollout's
    kept output of the frozen blocks below `prefix_start`, [batch, positions, d]) only the blocks
    from `prefix_start` on run (`welfare.rl.prefix`).
    """
    device = next(model.parameters()).device
    ids, _ = right_pad(sequences, pad_id)
    positions = torch.arange(ids.shape[1]).expand_as(ids)
    index = decision_index.to(device)
    kept = None if prefix is None else fit_width(prefix, ids.shape[1]).to(device)
    # No padding mask: padding only follows a row's tokens, and a causal query sees only earlier
    # positions, so every real position's output is exact without one (and SDPA takes its
    # unmasked causal kernel, forward and backward).
    only = last_layer_at_decisions(model, index, enabled=decisions_only)
    with only, replay_prefix(model, kept, prefix_start):
        hidden = hidden_states(model, ids.to(device), None, positions.to(device))
    return head_logits(model, gather_positions(hidden, index), token_ids)


def log_probs(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """Log-probabilities of the sampling distribution softmax(ℓ / temperature)."""
    return (logits / temperature).log_softmax(-1)


def choose(
    logits: torch.Tensor, temperature: float, greedy: bool, generator: torch.Generator | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Sample (or argmax) an action per row of direction logits; return (actions, log-probs).

    The log-prob is under the sampling distribution softmax(ℓ / temperature), the behaviour
    policy the PPO ratio compares against.
    """
    logp = log_probs(logits, temperature)
    if greedy:
        actions = logits.argmax(-1)
    else:
        actions = torch.multinomial(logp.exp().cpu(), 1, generator=generator).squeeze(-1)
        actions = actions.to(logits.device)
    return actions, logp.gather(-1, actions[:, None]).squeeze(-1)
