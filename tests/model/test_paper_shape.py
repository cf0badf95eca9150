"""The paper-shaped model and tokenizer: Qwen3-4B's sizes, Qwen's specials and turn lengths."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from welfare.maze import MazeConfig, TileMapping
from welfare.model.load import check_tokenizer
from welfare.model.paper_shape import chatml_tokenizer, paper_shape_config, random_model
from welfare.rl.chat import TurnFormat, encode_texts
from welfare.rl.episodes import EpisodeBatch

MESSAGE = (
    "You are in a maze. Currently, you’re at location (50, 49). To the north there is 🧾; to the "
    "east there is 📇; to the south there is 📐; to the west there is 🧾. Where do you move? "
    "Output only N/E/S/W without punctuation."
)


@pytest.fixture(scope="module")
def tokenizer():
    return chatml_tokenizer()


def test_qwen3_4b_shape_has_four_billion_parameters():
    config = paper_shape_config("paper")
    assert (config.num_hidden_layers, config.hidden_size, config.intermediate_size) == (
        36,
        2560,
        9728,
    )
    assert (config.num_attention_heads, config.num_key_value_heads, config.head_dim) == (32, 8, 128)
    assert config.vocab_size == 151_936 and config.tie_word_embeddings
    model = random_model(config, torch.bfloat16, "meta")  # shapes only, no memory
    n = sum(p.numel() for p in model.parameters())
    assert 4.00e9 < n < 4.05e9, n  # Qwen3-4B: 4.02 B with the tied embedding


def test_tokenizer_has_qwens_specials_and_single_token_directions(tokenizer):
    ids = [
        tokenizer.convert_tokens_to_ids(s) for s in ("<|endoftext|>", "<|im_start|>", "<|im_end|>")
    ]
    assert ids == [151_643, 151_644, 151_645]
    assert len(tokenizer) == 151_646 and tokenizer.pad_token_id == 151_643
    directions = check_tokenizer(tokenizer, 151_936)  # the loader's own checks
    assert len(set(directions.values())) == 4
    # every id a random model can sample decodes (the steering benchmark decodes them)
    assert isinstance(tokenizer.decode([0, 100_000, 151_642, 151_935]), str)


def test_maze_turns_are_as_long_as_qwens(tokenizer):
    ids = tokenizer.encode(MESSAGE, add_special_tokens=False)
    pieces = tokenizer.convert_ids_to_tokens(ids)
    assert len(ids) == 66
    assert "Ġmaze" in pieces and "Ġpunctuation" in pieces  # words are single tokens
    assert pieces[13:21] == ["5", "0", ",", "Ġ", "4", "9", ").", "ĠTo"]  # digits one by one
    fmt = TurnFormat.from_tokenizer(tokenizer)  # ChatML is turn-additive
    first, later = encode_texts(tokenizer, [fmt.turn_text(0, MESSAGE), fmt.turn_text(1, MESSAGE)])
    assert (len(first), len(later) + 1) == (74, 77)  # + the previous answer's token


def test_episode_lengths_on_paper_mazes(tokenizer):
    fmt = TurnFormat.from_tokenizer(tokenizer)
    mapping = TileMapping(mold="📇", gold="📐", path="🧾")
    episodes = EpisodeBatch.fresh([11, 12], 8, MazeConfig(), mapping, stream_seed=0)
    lengths = np.zeros(len(episodes))
    for turn in range(episodes.turns):
        texts = [fmt.turn_text(turn, m) for m in episodes.user_messages()]
        lengths += [len(ids) + (turn > 0) for ids in encode_texts(tokenizer, texts)]
        episodes.act([turn % 4] * len(episodes))
    assert 1_100 <= lengths.mean() <= 1_250, lengths
