"""One corpus row: a chat with a genre name and its labels."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

Message = dict[str, str]


@dataclass
class Row:
    """`{"genre", "messages": [{"role", "content"}...], "meta": {...}}` as written to JSONL."""

    genre: str
    messages: list[Message]
    meta: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"genre": self.genre, "messages": self.messages, "meta": self.meta}


def user(text: str) -> Message:
    return {"role": "user", "content": text}


def assistant(text: str) -> Message:
    return {"role": "assistant", "content": text}


def pick(rng: np.random.Generator, options: tuple[str, ...] | list[str]) -> str:
    return options[int(rng.integers(len(options)))]
