"""Chat messages → token ids, and where the last assistant template starts.

A conversation that ends with an assistant message (an extraction trajectory, whose last content
is the final direction letter) is rendered with `continue_final_message=True`: no end-of-turn
token follows the letter, so position −1 is the letter itself (PAPER §3.1). One that ends with a
user message (tracking: "That’s right") is rendered with the generation prompt, so its last
tokens are the empty assistant template.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RenderedChat:
    input_ids: list[int]
    template_start: int  # first token of the last assistant template (its role token)

    @property
    def n_tokens(self) -> int:
        return len(self.input_ids)


def _ids(tokenizer: Any, messages: Sequence[Mapping[str, str]], **kwargs: Any) -> list[int]:
    text = tokenizer.apply_chat_template(list(messages), tokenize=False, **kwargs)
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def render_chat(tokenizer: Any, messages: Sequence[Mapping[str, str]]) -> RenderedChat:
    """Token ids of `messages` as the model reads them at the capture point (module docstring)."""
    if not messages:
        raise ValueError("render_chat: no messages")
    if messages[-1]["role"] == "assistant":
        full = _ids(tokenizer, messages, continue_final_message=True)
        prefix = _ids(tokenizer, messages[:-1]) if len(messages) > 1 else []
    else:
        full = _ids(tokenizer, messages, add_generation_prompt=True)
        prefix = _ids(tokenizer, messages)
    if full[: len(prefix)] != prefix or len(prefix) >= len(full):
        # A template whose tokens merge across the turn boundary would make the span ambiguous.
        raise ValueError("chat template: the chat without its last turn is not a token prefix")
    return RenderedChat(input_ids=full, template_start=len(prefix))
