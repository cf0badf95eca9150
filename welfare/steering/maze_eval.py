"""Maze behaviour under steering: Gold and Mold visit rates on held-out mazes.

Reuses the RL stage's KV-cached rollout (`welfare.rl.rollout.play`). Only each turn's new
tokens are fed (right-padded chunks, per-row positions in a packed cache), so the steering mask
is given per chunk (`before_forward`) instead of from a prompt: in turn t ≥ 1 a row's chunk
starts with the previous answer token and the glue that closes that assistant turn, and every
chunk ends with the assistant header. How many tokens each of those is comes from the chat
template itself (`TurnSteerLayout.from_tokenizer`), checked against `encode_chats` in the tests.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from welfare.steering.hooks import steering
from welfare.steering.masks import encode_chats


@dataclass(frozen=True)
class TurnSteerLayout:
    lead: int  # steered tokens opening a turn-t ≥ 1 chunk: the answer and its closing glue
    tail: int  # steered tokens ending every chunk: the assistant header from the role token on

    @classmethod
    def from_tokenizer(cls, tokenizer: Any) -> TurnSteerLayout:
        # welfare.rl imports transformers (~0.5 s): lazy, so `welfare steer --help` stays fast.
        from welfare.rl.chat import TurnFormat
        from welfare.rl.policy import direction_ids

        fmt = TurnFormat.from_tokenizer(tokenizer)
        answer = tokenizer.convert_ids_to_tokens(direction_ids(tokenizer)[0])
        answer = tokenizer.convert_tokens_to_string([answer])
        one = encode_chats(tokenizer, [[{"role": "user", "content": "x"}]])
        tail = int(one.steer_mask[0].sum())
        two = encode_chats(
            tokenizer,
            [
                [
                    {"role": "user", "content": "x"},
                    {"role": "assistant", "content": answer},
                    {"role": "user", "content": "y"},
                ]
            ],
        )
        lead = int(two.steer_mask[0].sum()) - 2 * tail  # minus both headers: answer + glue
        # the turn-1 chunk is the answer token then turn_text(1, "y"): it must end the probe
        chunk = tokenizer(fmt.turn_text(1, "y"), add_special_tokens=False)["input_ids"]
        ids = two.input_ids[0][two.attention_mask[0].bool()].tolist()
        if ids[-len(chunk) :] != chunk:
            raise ValueError("chat template tokenises turn chunks differently from whole chats")
        return cls(lead=lead, tail=tail)

    def chunk_mask(self, turn: int, lengths: torch.Tensor, width: int) -> torch.Tensor:
        """(batch, width) mask of a right-padded chunk whose rows have `lengths` real tokens."""
        cols = torch.arange(width)[None, :]
        lengths = lengths.cpu()[:, None]
        mask = (cols >= lengths - self.tail) & (cols < lengths)
        if turn > 0:
            mask |= cols < self.lead
        return mask


@dataclass(frozen=True)
class MazeRates:
    gold: np.ndarray  # per episode: Gold tiles entered / turns
    mold: np.ndarray
    returns: np.ndarray


def maze_rates(
    model: Any,
    tokenizer: Any,
    maze_seeds: Sequence[int],
    params: Mapping[str, Any],
    mapping: str,
    additions: Mapping[int, torch.Tensor],
    greedy: bool = True,
    temperature: float = 0.7,
    seed: int = 0,
) -> MazeRates:
    """Play every maze once under `additions` on assistant-turn tokens; per-episode rates."""
    from welfare.rl.rollout import play  # lazy: see TurnSteerLayout.from_tokenizer

    layout = TurnSteerLayout.from_tokenizer(tokenizer)
    current: dict[str, torch.Tensor] = {}

    def before_forward(chunk: Any) -> None:
        width = chunk.input_ids.shape[1]
        lengths = chunk.attention_mask[:, -width:].sum(-1)
        current["mask"] = layout.chunk_mask(chunk.turn, lengths, width)

    with steering(model, additions, lambda _offset, _batch, _length: current["mask"]):
        traj = play(
            model,
            tokenizer,
            list(maze_seeds),
            dict(params),
            mapping,
            greedy=greedy,
            temperature=temperature,
            seed=seed,
            before_forward=before_forward,
        )
    counts = traj.episodes.tile_counts()
    turns = traj.episodes.turns
    return MazeRates(
        gold=counts["gold"] / turns,
        mold=counts["mold"] / turns,
        returns=traj.returns.numpy(),
    )
