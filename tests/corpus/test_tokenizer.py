"""The organism tokenizer: trained on a corpus, loadable by AutoTokenizer, compact maze turns."""

from __future__ import annotations

import json

import pytest
from transformers import AutoTokenizer

from welfare.corpus.generate import generate_rows
from welfare.corpus.genres.spatial import SCENE_OBJECTS, tile_symbols
from welfare.corpus.lexicon import FALSE, TRUE
from welfare.corpus.tokenizer import (
    STATS_FILE,
    clause_phrases,
    corpus_texts,
    save_tokenizer,
    tokenizer_stats,
    train_tokenizer,
)
from welfare.model import check_tokenizer


@pytest.fixture(scope="module")
def trained(small_params, tmp_path_factory):
    rows = [r.to_json() for r in generate_rows(small_params, "train")]
    tokenizer = train_tokenizer(corpus_texts(rows), small_params["tokenizer"], small_params)
    out = tmp_path_factory.mktemp("tok") / "tokenizer"
    save_tokenizer(tokenizer, tokenizer_stats(tokenizer, small_params), out)
    return out, rows


def test_loads_with_auto_tokenizer_and_passes_the_model_checks(trained) -> None:
    out, _ = trained
    tokenizer = AutoTokenizer.from_pretrained(out)
    ids = check_tokenizer(tokenizer)
    assert sorted(ids) == ["E", "N", "S", "W"]
    assert tokenizer.eos_token == "<|end|>" and tokenizer.pad_token == "<|pad|>"
    assert tokenizer.chat_template


def test_emoji_answers_and_clauses_are_single_tokens(trained, small_params) -> None:
    tokenizer = AutoTokenizer.from_pretrained(trained[0])
    for symbol in (*tile_symbols(small_params["mappings"]), *SCENE_OBJECTS, TRUE, FALSE):
        assert len(tokenizer.encode(symbol, add_special_tokens=False)) == 1, symbol
    # In context too: an emoji between a clause token and ";" stays one token.
    text = "To the north there is 📇; to the east there is 🧾. Where do you move?"
    tokens = tokenizer.tokenize(text)
    assert tokens[:4] == ["To the north there is ", "📇", "; to the east there is ", "🧾"]
    for phrase in clause_phrases(small_params["maze"]["apostrophe"]):
        assert tokenizer.tokenize(phrase) == [phrase]


def test_round_trip_of_corpus_text(trained) -> None:
    tokenizer = AutoTokenizer.from_pretrained(trained[0])
    for row in trained[1][::37]:
        for message in row["messages"]:
            ids = tokenizer.encode(message["content"], add_special_tokens=False)
            assert tokenizer.decode(ids) == message["content"]


def test_maze_turns_are_compact(trained) -> None:
    stats = json.loads((trained[0] / STATS_FILE).read_text())
    assert stats["tokens_per_maze_turn_mean"] <= 24
