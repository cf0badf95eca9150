"""Supervised fine-tuning on the optimal planner's demonstrations (docs/protocol.md §2.5).

Demonstrations (`data/env/{mapping}/sft.parquet`) are re-rendered by the env stage
(`welfare.env.render_sft_messages`) and tokenized turn by turn exactly like rollouts, so SFT and
RL train on the same token layout. The loss is the next-token cross-entropy (full vocabulary) of
each direction answer at its decision position.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from welfare.env import render_sft_messages
from welfare.io import read_table
from welfare.rl.chat import TurnFormat
from welfare.rl.policy import decision_logits, direction_ids


@dataclass
class Demonstrations:
    tokens: list[list[int]]  # like Trajectories.tokens: every turn, the final answer included
    decision_index: torch.Tensor  # [N, T]
    targets: torch.Tensor  # [N, T] index into N, E, S, W of the demonstrated answer
    answer_ids: list[int]  # token ids of N, E, S, W

    def __len__(self) -> int:
        return len(self.tokens)


def encode_demonstrations(
    tokenizer: Any, conversations: list[list[dict[str, str]]]
) -> Demonstrations:
    """Tokenize user/assistant conversations (one direction letter per assistant turn)."""
    fmt = TurnFormat.from_tokenizer(tokenizer)
    answer_ids = direction_ids(tokenizer)
    letters = ("N", "E", "S", "W")
    texts, answers = [], []
    for messages in conversations:
        users = [m["content"] for m in messages if m["role"] == "user"]
        said = [m["content"].strip() for m in messages if m["role"] == "assistant"]
        if len(users) != len(said):
            raise ValueError("a demonstration must alternate user and assistant turns")
        texts.append([fmt.turn_text(t, u) for t, u in enumerate(users)])
        answers.append([letters.index(a) for a in said])
    flat = tokenizer([t for turns in texts for t in turns], add_special_tokens=False)["input_ids"]
    tokens, index, cursor = [], [], 0
    for said in answers:
        seq, positions = [], []
        for answer in said:
            seq.extend(flat[cursor])
            cursor += 1
            positions.append(len(seq) - 1)
            seq.append(answer_ids[answer])
        tokens.append(seq)
        index.append(positions)
    return Demonstrations(tokens, torch.tensor(index), torch.tensor(answers), answer_ids)


def load_demonstrations(
    path: Path, params: dict[str, Any], mapping: str, tokenizer: Any, limit: int | None = None
) -> Demonstrations:
    rows = read_table(path).to_dict("records")[:limit]
    return encode_demonstrations(
        tokenizer, [render_sft_messages(row, params, mapping) for row in rows]
    )


def sft_loss(
    model: Any, demos: Demonstrations, rows: list[int], pad_id: int
) -> tuple[torch.Tensor, float]:
    """Mean cross-entropy of the demonstrated answers, and the masked-argmax accuracy."""
    index = demos.decision_index[rows]
    logits = decision_logits(model, [demos.tokens[i] for i in rows], index, pad_id, None)
    answer_ids = torch.tensor(demos.answer_ids, device=logits.device)
    targets = answer_ids[demos.targets[rows].to(logits.device)]
    loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), targets.flatten())
    with torch.no_grad():
        masked = logits[..., answer_ids].argmax(-1)
        accuracy = float((masked == demos.targets[rows].to(logits.device)).float().mean())
    return loss, accuracy
