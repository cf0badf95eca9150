"""Run chats through a model batch by batch; yield block outputs at the capture positions.

Capture positions: "last" (token −1), "assistant_template" (every token of the last assistant
template, right-aligned), or a sequence of named token positions, gathered from one forward pass:
"letter" (token −1, the final direction letter: docs/protocol.md §3.1's position) and "decision"
(the last template token before the final content, `RenderedChat.decision_index`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from welfare.activations.batching import padded_batches
from welfare.activations.positions import last_token_index, own_gather_index, span_gather_index
from welfare.activations.recorder import BlockOutputRecorder
from welfare.activations.render import RenderedChat

CapturePosition = Literal["last", "assistant_template"]
NamedPosition = Literal["letter", "decision"]
NAMED_POSITIONS: tuple[str, ...] = ("letter", "decision")


@dataclass(frozen=True)
class RecordedBatch:
    start: int  # index of the first chat of this batch in the input sequence
    activations: np.ndarray  # (batch, P, n_layers, d_model) float32; NaN where a span is shorter


def named_indices(chat: RenderedChat, names: Sequence[str]) -> list[int]:
    """The chat's own token index of each named position (module docstring)."""
    out = []
    for name in names:
        if name == "letter":
            out.append(chat.n_tokens - 1)
        elif name == "decision":
            if chat.decision_error:
                raise ValueError(chat.decision_error)
            if chat.decision_index < chat.template_start:
                raise ValueError(
                    "chat template: no assistant header token before the final message"
                )
            out.append(chat.decision_index)
        else:
            raise ValueError(
                f"unknown capture position {name!r}; expected one of {NAMED_POSITIONS}"
            )
    return out


def capture_width(chats: Sequence[RenderedChat], position: CapturePosition | Sequence[str]) -> int:
    """Captured positions per sample: 1 for "last", the longest template for
    "assistant_template", one per name for named positions."""
    if position == "last":
        return 1
    if position == "assistant_template":
        return max(chat.n_tokens - chat.template_start for chat in chats)
    return len(position)


def record_chats(
    model: Any,
    chats: Sequence[RenderedChat],
    *,
    position: CapturePosition | Sequence[str] = "last",
    pad_id: int = 0,
    padding_side: Literal["left", "right"] = "left",
    max_batch_size: int = 16,
    max_batch_tokens: int = 16384,
    layers: Sequence[int] | None = None,
    stop_after_last: bool = True,
) -> Iterator[RecordedBatch]:
    """Yield the block outputs of `chats` in order, one batch at a time (chats are not reordered:
    sort them by length first for tight padding). `stop_after_last` skips what follows the last
    recorded block (final norm, LM head)."""
    import torch

    device = next(model.parameters()).device
    width = capture_width(chats, position)
    named = not isinstance(position, str)
    # Named positions are resolved for every chat before the first forward pass (bad templates
    # fail before any work).
    own = [named_indices(chat, position) for chat in chats] if named else []
    with BlockOutputRecorder(model, layers=layers, stop_after_last=stop_after_last) as recorder:
        for batch in padded_batches(
            chats,
            pad_id=pad_id,
            side=padding_side,
            max_batch_size=max_batch_size,
            max_batch_tokens=max_batch_tokens,
        ):
            mask = batch.attention_mask.to(device)
            members = chats[batch.start : batch.start + mask.shape[0]]
            if named:
                rows = own[batch.start : batch.start + mask.shape[0]]
                index, valid = own_gather_index(mask, rows), None
            elif position == "last":
                index, valid = last_token_index(mask)[:, None], None
            else:
                index, valid = span_gather_index(
                    mask,
                    [chat.template_start for chat in members],
                    [chat.n_tokens for chat in members],
                    width=width,
                )
            out = recorder.run(batch.input_ids.to(device), mask, index).float()
            if valid is not None:
                out = torch.where(valid[:, :, None, None], out, torch.nan)
            yield RecordedBatch(start=batch.start, activations=out.cpu().numpy())
