"""Chat messages → token ids, and where the last assistant template starts.

A conversation that ends with an assistant message (an extraction trajectory, whose last content
is the final direction letter) is rendered with `continue_final_message=True`: no end-of-turn
token follows the letter, so position −1 is the letter itself (docs/protocol.md §3.1). One that ends
with a user message (tracking: "That’s right") is rendered with the generation prompt, so its last
tokens are the empty assistant template.

`content_start` is found from the template itself, never from a token id: the rendered text ends
with the final message's content, so the text before it (the template up to and including the
assistant header: `<|assistant|>` for the organism, `<|im_start|>assistant\n` for Qwen3 and
SmolLM2, `<|start_header_id|>assistant<|end_header_id|>\n\n` for Llama 3) must tokenize to a
prefix of the chat's tokens. Its last token is the *decision token*: the model's state there is
the one that chooses the move; the letter follows it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RenderedChat:
    input_ids: list[int]
    template_start: int  # first token of the last assistant template (its role token)
    content_start: int | None = None  # first token of the final assistant content (None: none)
    decision_error: str | None = None  # why this chat has no decision token (None: it has one)

    @property
    def n_tokens(self) -> int:
        return len(self.input_ids)

    @property
    def decision_index(self) -> int:
        """The last template token before the final content (the token that chooses the move);
        the last token when the chat has no final assistant content."""
        end = self.n_tokens if self.content_start is None else self.content_start
        return end - 1


def _text_ids(tokenizer: Any, text: str) -> list[int]:
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def _ids(tokenizer: Any, messages: Sequence[Mapping[str, str]], **kwargs: Any) -> list[int]:
    return _text_ids(tokenizer, _text(tokenizer, messages, **kwargs))


def _text(tokenizer: Any, messages: Sequence[Mapping[str, str]], **kwargs: Any) -> str:
    return tokenizer.apply_chat_template(list(messages), tokenize=False, **kwargs)


def _content_start(tokenizer: Any, text: str, content: str, full: list[int]) -> int | str:
    """Index of the first token of `content`, which ends `text` (continue_final_message keeps
    it whole or stripped), or why it cannot be named."""
    for candidate in (content, content.rstrip(), content.strip()):
        if candidate and text.endswith(candidate):
            ending = candidate
            break
    else:
        return "chat template: the rendered chat does not end with the final message"
    head = _text_ids(tokenizer, text[: len(text) - len(ending)])
    if full[: len(head)] != head or len(head) >= len(full):
        # The template's last token and the content would merge: no decision token to name.
        return (
            "chat template: the text before the final message is not a token prefix "
            "(its last token merges with the content)"
        )
    return len(head)


def render_chat(tokenizer: Any, messages: Sequence[Mapping[str, str]]) -> RenderedChat:
    """Token ids of `messages` as the model reads them at the capture point (module docstring)."""
    if not messages:
        raise ValueError("render_chat: no messages")
    if messages[-1]["role"] == "assistant":
        text = _text(tokenizer, messages, continue_final_message=True)
        full = _text_ids(tokenizer, text)
        prefix = _ids(tokenizer, messages[:-1]) if len(messages) > 1 else []
        found = _content_start(tokenizer, text, messages[-1]["content"], full)
    else:
        full = _ids(tokenizer, messages, add_generation_prompt=True)
        prefix = _ids(tokenizer, messages)
        found = None
    # Only the decision position needs the content's start: other captures never fail on it.
    content_start, error = (None, found) if isinstance(found, str) else (found, None)
    if full[: len(prefix)] != prefix or len(prefix) >= len(full):
        # A template whose tokens merge across the turn boundary would make the span ambiguous.
        raise ValueError("chat template: the chat without its last turn is not a token prefix")
    return RenderedChat(full, len(prefix), content_start=content_start, decision_error=error)
