"""Steering inside the RL stage's cached maze rollout marks exactly the assistant tokens."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from welfare.config import load_params
from welfare.steering.masks import encode_chats
from welfare.steering.maze_eval import TurnSteerLayout, maze_rates


@pytest.fixture(scope="module")
def organism(tmp_path_factory):
    from welfare.model import load_model
    from welfare.model.testing import tiny_model_dir

    path = tiny_model_dir(tmp_path_factory.mktemp("maze"), "qwen3", layers=2)
    runtime = {"device": "cpu", "dtype": "float32", "threads": 1, "trust_remote_code": False}
    return load_model(path, runtime)


def test_chunk_masks_equal_whole_chat_masks(organism):
    """Concatenate each row's real chunk tokens and masks over a rollout: they must equal
    `encode_chats` of the same conversation (the absolute-position oracle)."""
    from welfare.maze import MazeConfig, TileMapping
    from welfare.rl.episodes import EpisodeBatch
    from welfare.rl.rollout import rollout

    model, tokenizer = organism
    params = load_params()
    config = MazeConfig.from_params({**params["maze"], "turns": 4})
    episodes = EpisodeBatch.fresh(
        [900000, 900001, 900002], 1, config, TileMapping.from_params(params, "office"), 0
    )
    seen_messages: list[list[str]] = []
    original = episodes.user_messages

    def recording() -> list[str]:
        messages = original()
        seen_messages.append(messages)
        return messages

    episodes.user_messages = recording  # type: ignore[method-assign]
    layout = TurnSteerLayout.from_tokenizer(tokenizer)
    tokens: list[list[int]] = [[] for _ in range(3)]
    masks: list[list[bool]] = [[] for _ in range(3)]

    def before_forward(chunk) -> None:
        width = chunk.input_ids.shape[1]
        real = chunk.attention_mask[:, -width:].bool()
        mask = layout.chunk_mask(chunk.turn, real.sum(-1), width)
        for row in range(3):
            tokens[row] += chunk.input_ids[row][real[row]].tolist()
            masks[row] += mask[row][real[row]].tolist()

    traj = rollout(model, tokenizer, episodes, greedy=True, before_forward=before_forward)
    letters = "NESW"
    for row in range(3):
        chat = []
        for turn in range(4):
            chat.append({"role": "user", "content": seen_messages[turn][row]})
            if turn < 3:
                chat.append({"role": "assistant", "content": letters[int(traj.actions[row, turn])]})
        enc = encode_chats(tokenizer, [chat])
        assert enc.input_ids[0].tolist() == tokens[row]
        assert enc.steer_mask[0].tolist() == masks[row]
        assert sum(masks[row]) == 4 * layout.tail + 3 * layout.lead


def test_maze_rates_under_steering(organism):
    model, tokenizer = organism
    params = load_params()
    seeds = [900000, 900001, 900002, 900003]
    plain = maze_rates(model, tokenizer, seeds, params, "office", {})
    zero = maze_rates(model, tokenizer, seeds, params, "office", {1: torch.zeros(32)})
    assert np.array_equal(plain.gold, zero.gold) and np.array_equal(plain.returns, zero.returns)
    assert ((plain.gold >= 0) & (plain.gold <= 1)).all() and (
        (plain.mold >= 0) & (plain.mold <= 1)
    ).all()
    # a push toward "S" on the assistant tokens (the decision position among them) makes the
    # policy go south: the hook reaches the rollout's cached chunks
    head = model.get_output_embeddings().weight.detach()
    south, east = tokenizer.convert_tokens_to_ids("S"), tokenizer.convert_tokens_to_ids("E")
    pushed = maze_rates(
        model, tokenizer, seeds, params, "office", {1: 50 * (head[south] - head[east])}
    )
    assert not np.array_equal(plain.returns, pushed.returns)
