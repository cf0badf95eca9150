"""Which token positions to capture in a padded batch, for left or right padding alike.

Positions are computed from the attention mask, never assumed: the last real token of a sample
is its last position with mask 1, and token `j` of a sample's own sequence sits at
`first real position + j` in the padded batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def last_token_index(attention_mask: Any) -> Any:
    """Index of each row's last real token (mask 1), shape (batch,)."""
    import torch

    seq_len = attention_mask.shape[1]
    ramp = torch.arange(seq_len, device=attention_mask.device).expand_as(attention_mask)
    return torch.where(attention_mask.bool(), ramp, -1).max(dim=1).values


def first_token_index(attention_mask: Any) -> Any:
    """Index of each row's first real token, shape (batch,)."""
    import torch

    seq_len = attention_mask.shape[1]
    ramp = torch.arange(seq_len, device=attention_mask.device).expand_as(attention_mask)
    return torch.where(attention_mask.bool(), ramp, seq_len).min(dim=1).values


def position_ids_from_mask(attention_mask: Any) -> Any:
    """Rotary positions that ignore padding (what `generate` passes), so a left-padded sample
    sees the same positions as when it runs alone."""
    position_ids = attention_mask.long().cumsum(dim=1) - 1
    return position_ids.clamp(min=0)


def span_gather_index(
    attention_mask: Any,
    span_starts: Sequence[int],
    span_ends: Sequence[int],
    width: int | None = None,
) -> tuple[Any, Any]:
    """Gather indices for per-sample token spans [start, end) in each sample's own coordinates.

    Spans are right-aligned: column `p` of the result holds the token at offset `p − P` from the
    span's end, where P is `width` (default: the longest span), so the final token is always the
    last column.
    Returns `(index, valid)`, both (batch, P); invalid slots point at the span's last token and
    must be masked by the caller.
    """
    import torch

    starts = torch.as_tensor(list(span_starts), dtype=torch.long, device=attention_mask.device)
    ends = torch.as_tensor(list(span_ends), dtype=torch.long, device=attention_mask.device)
    lengths = ends - starts
    if bool((lengths <= 0).any()):
        raise ValueError("every capture span needs at least one token")
    width = int(lengths.max()) if width is None else width
    if int(lengths.max()) > width:
        raise ValueError(f"a capture span is longer than width={width}")
    offsets = torch.arange(-width, 0, device=attention_mask.device)  # −P .. −1
    own_index = ends[:, None] + offsets[None, :]
    valid = own_index >= starts[:, None]
    own_index = torch.where(valid, own_index, (ends - 1)[:, None])
    return own_gather_index(attention_mask, own_index), valid


def own_gather_index(attention_mask: Any, own_index: Any) -> Any:
    """Padded-batch positions (batch, P) of tokens given in each sample's own coordinates
    (a (batch, P) tensor or nested lists)."""
    import torch

    own = torch.as_tensor(own_index, dtype=torch.long, device=attention_mask.device)
    return first_token_index(attention_mask)[:, None] + own
