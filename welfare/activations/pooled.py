"""Activations of short texts pooled to one vector per text (for emotion and sentiment vectors)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Literal

import numpy as np

from welfare.activations.record import record_chats
from welfare.activations.render import render_chat

Pooling = Literal["last", "assistant_mean"]


def pooled_activations(
    model: Any,
    tokenizer: Any,
    conversations: Sequence[Sequence[Mapping[str, str]]],
    *,
    pooling: Pooling = "last",
    batch_size: int = 16,
    max_batch_tokens: int = 16384,
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield (start index, (batch, L, d) float32): the last token's block outputs, or their mean
    over every token of the last assistant turn (role token and content; Sofroniew-style story
    averaging). Conversations are processed in the given order."""
    chats = [render_chat(tokenizer, messages) for messages in conversations]
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    for batch in record_chats(
        model,
        chats,
        position="last" if pooling == "last" else "assistant_template",
        pad_id=pad_id,
        max_batch_size=batch_size,
        max_batch_tokens=max_batch_tokens,
    ):
        acts = batch.activations  # (b, P, L, d), NaN where a span is shorter
        yield batch.start, (acts[:, 0] if pooling == "last" else np.nanmean(acts, axis=1))
