"""bench/smollm2_bandit.py and bench/smollm2_locate.py: the three training signals push the
direction logits the right way (the sampled one agrees with the exact one on average), and the
locate probe's prompt rewrites keep what they claim to keep."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.smollm2_bandit import first_turn_texts, first_turns, loss_of, rotated, tile_rewards
from bench.smollm2_locate import QUESTION, in_english, only_gold_clause, variants
from welfare.maze import MazeConfig, Tile, TileMapping
from welfare.model.load import load_model
from welfare.model.testing import tiny_model_dir
from welfare.rl.chat import TurnFormat

MAPPING = TileMapping(mold="📇", gold="📐", path="🧾")
REWARDS = torch.tensor([[20.0, -0.1, -10.0, 20.0]])  # N Gold, E Path, S Mold, W Gold


def _logit_grad(mode: str, rows: int = 1, seed: int = 0) -> torch.Tensor:
    logits = torch.zeros(rows, 4, requires_grad=True)
    loss_of(mode, logits, REWARDS.expand(rows, 4), torch.Generator().manual_seed(seed)).backward()
    return -logits.grad.sum(0)  # the ascent direction


def test_sft_splits_its_target_over_tied_best_neighbours() -> None:
    ascent = _logit_grad("sft")
    assert ascent[0] == pytest.approx(ascent[3]) and ascent[0] > 0  # Gold N and W alike
    assert ascent[1] < 0 and ascent[2] < 0


def test_expected_gradient_raises_gold_and_lowers_mold() -> None:
    ascent = _logit_grad("expected")
    assert ascent[0] > 0 and ascent[3] > 0 and ascent[2] < 0 and ascent[1] < 0
    assert ascent.sum().abs() < 1e-6  # a softmax gradient moves no mass out of the four


def test_sampled_reinforce_agrees_with_the_exact_gradient_on_average() -> None:
    exact = _logit_grad("expected")
    sampled = _logit_grad("rl", rows=4000)
    cosine = torch.nn.functional.cosine_similarity(exact, sampled, dim=0)
    assert cosine > 0.95


def test_first_turns_and_rewards_of_a_tiny_model(tmp_path) -> None:
    _, tokenizer = load_model(
        tiny_model_dir(tmp_path, "qwen3"), {"device": "cpu", "dtype": "float32", "threads": 1}
    )
    config = MazeConfig(size=20, turns=1)
    tokens, tiles = first_turns(
        [1, 2, 3], config, MAPPING, TurnFormat.from_tokenizer(tokenizer), tokenizer, 7
    )
    assert len(tokens) == 3 and tiles.shape == (3, 4)
    rewards = tile_rewards(tiles, config).numpy()
    assert np.all(rewards[tiles == Tile.GOLD] == config.reward_gold)
    assert np.all(rewards[tiles == Tile.MOLD] == config.reward_mold)


def test_locate_rewrites() -> None:
    message = (
        "You are in a maze. Currently, you’re at location (50, 50). To the west there is 📇; "
        "to the south there is 🧾; to the east there is 🧾; to the north there is 📐. " + QUESTION
    )
    english = in_english(message, MAPPING)
    assert "📐" not in english and "there is gold" in english and "a rolodex" in english
    one = only_gold_clause(message, MAPPING)
    assert one.count("there is") == 1 and "To the north there is gold." in one
    assert one.endswith(QUESTION) and "(50, 50)." in one
    names = [v.name for v in variants(MAPPING)]
    assert names == ["maze", "emoji-asked", "english-asked", "english-one-clause"]
    asked = {v.name: v.rewrite(message, MAPPING) for v in variants(MAPPING)}
    assert asked["maze"] == message and "In which direction is the 📐?" in asked["emoji-asked"]


def test_a_rotated_message_is_the_turned_mazes_and_its_tiles_roll_with_it() -> None:
    message = "X. To the west there is 📇; to the south there is 🧾; to the north there is 📐. Q"
    assert rotated(message, 1) == (
        "X. To the north there is 📇; to the west there is 🧾; to the east there is 📐. Q"
    )
    assert rotated(message, 4) == message

    class Plain:
        def turn_text(self, turn: int, message: str) -> str:
            return message

    config = MazeConfig(size=20, turns=1)
    texts, tiles = first_turn_texts([1, 2], config, MAPPING, Plain(), 7, rotate=True)
    assert len(texts) == 8 and tiles.shape == (8, 4)
    words = {"N": "north", "E": "east", "S": "south", "W": "west"}
    symbols = {Tile.GOLD: MAPPING.gold, Tile.MOLD: MAPPING.mold, Tile.PATH: MAPPING.path}
    for text, row in zip(texts, tiles, strict=True):  # each text names its tiles where they lie
        for d, tile in zip("NESW", row, strict=True):
            assert f"the {words[d]} there is {symbols[Tile(tile)]}" in text
    assert all((tiles[k] == np.roll(tiles[0], k)).all() for k in range(4))
