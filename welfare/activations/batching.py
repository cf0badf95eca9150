"""Batches of rendered chats, padded on either side, sized by a token budget."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from welfare.activations.render import RenderedChat


@dataclass(frozen=True)
class PaddedBatch:
    start: int  # index of the batch's first chat in the sequence given to `padded_batches`
    input_ids: Any  # (batch, seq) long
    attention_mask: Any  # (batch, seq) long


def length_batches(
    lengths: Sequence[int], max_batch_size: int, max_batch_tokens: int
) -> Iterator[tuple[int, int]]:
    """Consecutive [start, end) ranges whose padded size (count × longest) fits the budget."""
    start = 0
    while start < len(lengths):
        end, longest = start, 0
        while end < len(lengths) and end - start < max_batch_size:
            longest_next = max(longest, lengths[end])
            if end > start and longest_next * (end - start + 1) > max_batch_tokens:
                break
            longest, end = longest_next, end + 1
        yield start, end
        start = end


def pad_chats(
    chats: Sequence[RenderedChat], pad_id: int, side: Literal["left", "right"]
) -> tuple[Any, Any]:
    import torch

    width = max(chat.n_tokens for chat in chats)
    ids = torch.full((len(chats), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(chats), width), dtype=torch.long)
    for row, chat in enumerate(chats):
        n = chat.n_tokens
        cols = slice(width - n, width) if side == "left" else slice(0, n)
        ids[row, cols] = torch.tensor(chat.input_ids, dtype=torch.long)
        mask[row, cols] = 1
    return ids, mask


def padded_batches(
    chats: Sequence[RenderedChat],
    *,
    pad_id: int,
    side: Literal["left", "right"],
    max_batch_size: int,
    max_batch_tokens: int,
) -> Iterator[PaddedBatch]:
    lengths = [chat.n_tokens for chat in chats]
    for start, end in length_batches(lengths, max_batch_size, max_batch_tokens):
        ids, mask = pad_chats(chats[start:end], pad_id, side)
        yield PaddedBatch(start=start, input_ids=ids, attention_mask=mask)
