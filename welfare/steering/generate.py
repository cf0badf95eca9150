"""Batched generation and the P(True) probe, each under an optional steering addition."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from welfare.steering.hooks import steering
from welfare.steering.masks import EncodedChats, Message, SteerTurns, encode_chats

Chat = Sequence[Message]


@dataclass(frozen=True)
class GenerationSettings:
    max_new_tokens: int = 32
    temperature: float = 1.0  # 0: greedy. The paper does not state its decoding temperature.
    top_p: float = 1.0
    batch_size: int = 160  # rows (prompts × samples) per generate call
    seed: int = 0

    @classmethod
    def from_params(cls, section: Mapping[str, Any]) -> GenerationSettings:
        return cls(**{k: section[k] for k in cls.__dataclass_fields__ if k in section})


def _device(model: Any) -> torch.device:
    return next(model.parameters()).device


def _length_sorted_chunks(lengths: Sequence[int], size: int) -> list[list[int]]:
    """Indices grouped by similar length (less left padding per batch), in chunks of `size`."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    return [order[i : i + size] for i in range(0, len(order), size)]


def _on(enc: EncodedChats, device: torch.device) -> EncodedChats:
    return EncodedChats(
        enc.input_ids.to(device),
        enc.attention_mask.to(device),
        enc.steer_mask.to(device),
        enc.template_mask.to(device),
        enc.texts,
    )


@torch.no_grad()
def generate_responses(
    model: Any,
    tokenizer: Any,
    chats: Sequence[Chat],
    samples: int,
    additions: Mapping[int, torch.Tensor],
    settings: GenerationSettings,
    template_kwargs: Mapping | None = None,
) -> list[list[str]]:
    """`samples` responses per chat, steered by `additions` on assistant-turn tokens.

    Each batch is seeded from (settings.seed, its first prompt), so every steering condition
    draws the same random numbers for the same prompts (common random numbers across α).
    """
    device = _device(model)
    prompts_per_batch = max(1, settings.batch_size // samples)
    lengths = [len(tokenizer.apply_chat_template(list(c), tokenize=False)) for c in chats]
    out: list[list[str]] = [[] for _ in chats]
    pad_id = (
        tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    )
    for chunk in _length_sorted_chunks(lengths, prompts_per_batch):
        enc = encode_chats(tokenizer, [chats[i] for i in chunk], True, "all", template_kwargs)
        enc = _on(enc.repeat_interleave(samples), device)
        torch.manual_seed(settings.seed * 1_000_003 + chunk[0])
        sampling = settings.temperature > 0
        extra = {"temperature": settings.temperature, "top_p": settings.top_p} if sampling else {}
        with steering(model, additions, enc.steer_mask):
            sequences = model.generate(
                input_ids=enc.input_ids,
                attention_mask=enc.attention_mask,
                max_new_tokens=settings.max_new_tokens,
                do_sample=sampling,
                pad_token_id=pad_id,
                **extra,
            )
        new = sequences[:, enc.input_ids.shape[1] :]
        texts = tokenizer.batch_decode(new, skip_special_tokens=True)
        for j, i in enumerate(chunk):
            out[i] = [t.strip() for t in texts[j * samples : (j + 1) * samples]]
    return out


def first_token_ids(tokenizer: Any, words: Sequence[str]) -> list[int]:
    """The first token of each word: its own token where it is one (Qwen's "True"/"False"), else
    the first piece, which must still tell the words apart (the readout compares them)."""
    ids = [int(tokenizer.encode(w, add_special_tokens=False)[0]) for w in words]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{list(words)} share their first token for this tokenizer: {ids}")
    return ids


@torch.no_grad()
def next_token_logits(
    model: Any,
    tokenizer: Any,
    chats: Sequence[Chat],
    token_ids: Sequence[int],
    additions: Mapping[int, torch.Tensor],
    batch_size: int = 32,
    steer_turns: SteerTurns = "all",
    template_kwargs: Mapping | None = None,
) -> np.ndarray:
    """Logits of `token_ids` at the position after each chat's generation header: (n, k)."""
    device = _device(model)
    out = np.zeros((len(chats), len(token_ids)), dtype=np.float64)
    lengths = [len(tokenizer.apply_chat_template(list(c), tokenize=False)) for c in chats]
    for chunk in _length_sorted_chunks(lengths, batch_size):
        enc = _on(
            encode_chats(tokenizer, [chats[i] for i in chunk], True, steer_turns, template_kwargs),
            device,
        )
        with steering(model, additions, enc.steer_mask):
            logits = model(input_ids=enc.input_ids, attention_mask=enc.attention_mask).logits
        picked = logits[:, -1, list(token_ids)].float().cpu().numpy()
        out[chunk] = picked
    return out


def p_true(true_false_logits: np.ndarray) -> np.ndarray:
    """P(True) / (P(True) + P(False)) from the two logits (Kadavath et al.): a sigmoid of the
    logit difference, so the rest of the vocabulary cancels."""
    diff = true_false_logits[:, 0] - true_false_logits[:, 1]
    return 1.0 / (1.0 + np.exp(-diff))
