"""Tokenise chats with masks of the assistant turns, in absolute (left-padded) positions.

The steering protocol (docs/protocol.md §4.1) adds the vector on every assistant-turn token, the
`assistant` role token included, never on system/user tokens. Turn boundaries come from the
tokenizer's own chat template: render the conversation prefix by prefix, find each assistant
turn's character span, and map it to tokens through the fast tokenizer's offset mapping. Nothing
here knows a particular template, so the organism's template and Qwen3's both work.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import torch

Message = Mapping[str, str]
SteerTurns = Literal["all", "final"]


@dataclass
class EncodedChats:
    """A left-padded batch. Masks are (batch, seq) bool over the same absolute positions.

    steer_mask: assistant-turn tokens from the role token on (what the steering hook touches).
    template_mask: every token of the final assistant template (header start to end), the
        positions read by correctness tracking (docs/protocol.md §4.11).
    """

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    steer_mask: torch.Tensor
    template_mask: torch.Tensor
    texts: list[str]

    def __len__(self) -> int:
        return int(self.input_ids.shape[0])

    def repeat_interleave(self, k: int) -> EncodedChats:
        """Each row k times in a row (k samples per prompt in one batch)."""
        if k == 1:
            return self
        return EncodedChats(
            input_ids=self.input_ids.repeat_interleave(k, 0),
            attention_mask=self.attention_mask.repeat_interleave(k, 0),
            steer_mask=self.steer_mask.repeat_interleave(k, 0),
            template_mask=self.template_mask.repeat_interleave(k, 0),
            texts=[t for t in self.texts for _ in range(k)],
        )


@dataclass(frozen=True)
class _Span:
    header_start: int  # first character of the turn's header (e.g. "<|im_start|>")
    role_start: int  # first character of the role word ("assistant")
    end: int  # one past the turn's last character


def _render(tokenizer: Any, messages: Sequence[Message], generation: bool, kwargs: Mapping) -> str:
    if not messages:
        return ""
    return tokenizer.apply_chat_template(
        list(messages), tokenize=False, add_generation_prompt=generation, **kwargs
    )


def _header_span(prefix: str, with_header: str, end: int, role: str) -> _Span:
    if not with_header.startswith(prefix):
        raise ValueError("chat template does not render conversations prefix by prefix")
    header = with_header[len(prefix) :]
    at = header.find(role)
    role_start = len(prefix) + (at if at >= 0 else 0)
    return _Span(header_start=len(prefix), role_start=role_start, end=end)


class _NotPrefixAdditive(ValueError):
    """The template renders a turn differently once later turns exist (Qwen3's empty think
    block on the last assistant turn)."""


def _prefix_spans(
    tokenizer: Any, messages: Sequence[Message], full: str, kw: Mapping, role: str
) -> list[_Span]:
    """Assistant turns by rendering prefix by prefix: exact turn boundaries, glue included."""
    spans = []
    for i, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        through = _render(tokenizer, messages[: i + 1], False, kw)
        if not full.startswith(through):
            raise _NotPrefixAdditive
        if i == 0:  # an assistant-first chat: the whole first turn is assistant
            spans.append(_Span(0, 0, len(through)))
            continue
        prefix = _render(tokenizer, messages[:i], False, kw)
        with_header = _render(tokenizer, messages[:i], True, kw)
        if not with_header.startswith(prefix):
            raise _NotPrefixAdditive
        spans.append(_header_span(prefix, with_header, len(through), role))
    return spans


def _placeholder_spans(
    tokenizer: Any,
    messages: Sequence[Message],
    full: str,
    generation: bool,
    kw: Mapping,
    role: str,
) -> list[_Span]:
    """Assistant turns of a template that is not prefix-additive: render the whole chat once
    with placeholder contents, locate them, and check that putting the real contents back
    gives the real rendering. A turn runs from its role word to the end of its content plus
    the end-of-turn token (`eos_token`) when that follows."""
    marks = [f"\u27e6{i}\u27e7" for i in range(len(messages))]
    masked = [{**m, "content": mark} for m, mark in zip(messages, marks, strict=True)]
    text = _render(tokenizer, masked, generation, kw)
    rebuilt, shift, cursor = [], 0, 0
    spans = []
    previous_end = 0
    for message, mark in zip(messages, marks, strict=True):
        at = text.find(mark, cursor)
        if at < 0:
            raise ValueError("chat template drops or reorders message contents")
        rebuilt.append(text[cursor:at] + message["content"])
        start = at + shift  # position of the content in the real text
        end = start + len(message["content"])
        if message["role"] == "assistant":
            role_at = text.rfind(role, cursor, at)
            role_start = (role_at + shift) if role_at >= 0 else previous_end
            eos = tokenizer.eos_token or ""
            tail = len(eos) if eos and text.startswith(eos, at + len(mark)) else 0
            spans.append(_Span(role_start, role_start, end + tail))
        shift += len(message["content"]) - len(mark)
        cursor = at + len(mark)
        previous_end = end
    rebuilt.append(text[cursor:])
    if "".join(rebuilt) != full:
        raise ValueError("chat template transforms message contents; cannot locate assistant turns")
    return spans


def assistant_spans(
    tokenizer: Any,
    messages: Sequence[Message],
    add_generation_prompt: bool,
    template_kwargs: Mapping | None = None,
    role: str = "assistant",
) -> tuple[str, list[_Span]]:
    """Render `messages` and return the text with the character span of each assistant turn.

    With `add_generation_prompt`, the trailing assistant header is the last span.
    """
    kw = dict(template_kwargs or {})
    full = _render(tokenizer, messages, add_generation_prompt, kw)
    try:
        spans = _prefix_spans(tokenizer, messages, full, kw, role)
    except _NotPrefixAdditive:
        spans = _placeholder_spans(tokenizer, messages, full, add_generation_prompt, kw, role)
    if add_generation_prompt:
        prefix = _render(tokenizer, messages, False, kw)
        spans.append(_header_span(prefix, full, len(full), role))
    return full, spans


def _token_mask(
    offsets: Sequence[tuple[int, int]], spans: Sequence[_Span], start: str
) -> list[bool]:
    """Tokens overlapping a span. Overlap, not containment: in the organism's template the role
    token `<|assistant|>` is the whole header, so it starts before the role word inside it."""
    mask = []
    for begin, end in offsets:
        mask.append(
            any(
                begin < span.end
                and max(end, begin + 1)
                > (span.role_start if start == "role" else span.header_start)
                for span in spans
            )
        )
    return mask


def encode_chats(
    tokenizer: Any,
    conversations: Sequence[Sequence[Message]],
    add_generation_prompt: bool = True,
    steer_turns: SteerTurns = "all",
    template_kwargs: Mapping | None = None,
) -> EncodedChats:
    """Tokenise chats, left-pad them, and mark assistant-turn tokens.

    steer_turns: "all" steers every assistant turn in the prompt and the generation header
    (the literal protocol); "final" only the last one (e.g. the P(True) probe's header).
    """
    if not getattr(tokenizer, "is_fast", False):
        raise TypeError("encode_chats needs a fast tokenizer (offset mapping)")
    rows: list[tuple[list[int], list[bool], list[bool], str]] = []
    for messages in conversations:
        text, spans = assistant_spans(tokenizer, messages, add_generation_prompt, template_kwargs)
        enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        offsets = enc["offset_mapping"]
        steer_spans = spans if steer_turns == "all" else spans[-1:]
        steer = _token_mask(offsets, steer_spans, "role")
        template = _token_mask(offsets, spans[-1:], "header")
        rows.append((list(enc["input_ids"]), steer, template, text))
    width = max(len(r[0]) for r in rows)
    pad_id = (
        tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    )
    n = len(rows)
    input_ids = torch.full((n, width), int(pad_id), dtype=torch.long)
    attention = torch.zeros((n, width), dtype=torch.long)
    steer_mask = torch.zeros((n, width), dtype=torch.bool)
    template_mask = torch.zeros((n, width), dtype=torch.bool)
    for b, (ids, steer, template, _text) in enumerate(rows):
        start = width - len(ids)  # left padding: generation continues every row at the right edge
        input_ids[b, start:] = torch.tensor(ids)
        attention[b, start:] = 1
        steer_mask[b, start:] = torch.tensor(steer)
        template_mask[b, start:] = torch.tensor(template)
    return EncodedChats(input_ids, attention, steer_mask, template_mask, [r[3] for r in rows])
