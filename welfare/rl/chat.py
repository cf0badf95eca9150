"""Turn segments of a multi-turn maze conversation, derived from the tokenizer's chat template.

Rollouts never re-render the whole conversation: turn t feeds only its new tokens,

    turn 0:  <opening> user_0 <user→assistant>
    turn t:  a_{t−1} <assistant→user> user_t <user→assistant>

where a_{t−1} is the previous direction token. The three glue strings are read off the template
once (by rendering a conversation with placeholder contents) and checked: the concatenated
segments must reproduce the template's own rendering, so any template (the organism's compact
one, Qwen's ChatML) works without special cases.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

_USER = ["\x00U0\x00", "\x00U1\x00", "\x00U2\x00"]
_ANSWER = ["\x00A0\x00", "\x00A1\x00"]


@dataclass(frozen=True)
class TurnFormat:
    """The template's glue strings around user messages and direction answers."""

    opening: str  # before the first user message (BOS, default system prompt, user header)
    user_to_assistant: str  # after a user message up to the answer (end of user, assistant header)
    assistant_to_user: str  # after an answer up to the next user message

    @classmethod
    def from_tokenizer(cls, tokenizer: Any) -> TurnFormat:
        def render(n_users: int) -> str:
            messages: list[dict[str, str]] = []
            for i in range(n_users):
                messages.append({"role": "user", "content": _USER[i]})
                if i < n_users - 1:
                    messages.append({"role": "assistant", "content": _ANSWER[i]})
            return tokenizer.apply_chat_template(
                messages, add_generation_prompt=True, tokenize=False
            )

        text = render(3)
        u0, a0, u1 = (text.index(s) for s in (_USER[0], _ANSWER[0], _USER[1]))
        fmt = cls(
            opening=text[:u0],
            user_to_assistant=text[u0 + len(_USER[0]) : a0],
            assistant_to_user=text[a0 + len(_ANSWER[0]) : u1],
        )
        for n in (1, 2, 3):  # the segments must rebuild the template's rendering exactly
            if fmt.conversation([f"{_USER[i]}" for i in range(n)], _ANSWER[: n - 1]) != render(n):
                raise ValueError(
                    "chat template is not turn-additive (it renders earlier turns differently "
                    "once later ones exist); cached multi-turn rollouts cannot use it"
                )
        return fmt

    def turn_text(self, turn: int, user_message: str) -> str:
        """The text of turn `turn` after the previous answer token (the answer itself excluded)."""
        glue = self.opening if turn == 0 else self.assistant_to_user
        return glue + user_message + self.user_to_assistant

    def conversation(self, user_messages: list[str], answers: list[str]) -> str:
        """The whole prompt text: every user message, the answers between them, ready to answer."""
        parts = []
        for turn, message in enumerate(user_messages):
            if turn:
                parts.append(answers[turn - 1])
            parts.append(self.turn_text(turn, message))
        return "".join(parts)


def encode_texts(tokenizer: Any, texts: list[str]) -> list[list[int]]:
    """Token ids of each text, no special tokens added: the rollout's per-turn encoding.

    A fast tokenizer's Rust batch encoder is called directly, without offsets
    (`encode_batch_fast`): the same ids in less than half the time of `tokenizer(texts)`, which
    is a tenth of a small organism's rollout.
    """
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None and hasattr(backend, "encode_batch_fast"):
        return [e.ids for e in backend.encode_batch_fast(texts, add_special_tokens=False)]
    return tokenizer(texts, add_special_tokens=False)["input_ids"]
