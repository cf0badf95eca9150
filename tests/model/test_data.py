"""Pretraining data: template-exact encoding, whole-document packing, assistant masks."""

from __future__ import annotations

import numpy as np

from welfare.config import load_params
from welfare.corpus.generate import generate_rows
from welfare.corpus.tokenizer import corpus_texts, train_tokenizer
from welfare.model.data import assistant_mask, encode_row, encode_rows, pack


def test_batched_encoding_equals_the_chat_template() -> None:
    params = load_params()
    for genre in params["corpus"]["genres"].values():
        genre["n"] = 10
    rows = [r.to_json() for r in generate_rows(params, "train")]
    tokenizer = train_tokenizer(corpus_texts(rows), params["tokenizer"], params)
    docs = encode_rows(tokenizer, rows, "assistant")
    for row, (ids, weights) in zip(rows, docs, strict=True):
        assert ids == encode_row(tokenizer, row["messages"])
        # Weighted tokens decode to exactly the assistant contents (each followed by <|end|>).
        kept = tokenizer.decode([i for i, w in zip(ids, weights, strict=True) if w])
        expected = "".join(
            m["content"] + "<|end|>" for m in row["messages"] if m["role"] == "assistant"
        )
        assert kept == expected


def test_packing_keeps_documents_whole() -> None:
    docs = [(list(range(1, n + 1)), np.ones(n, dtype=np.float32)) for n in (5, 7, 3, 9)]
    blocks = pack(docs, seq_len=11, pad_id=0)
    assert blocks.ids.shape[1] == 12
    assert [list(b[b > 0]) for b in blocks.ids] == [
        [1, 2, 3, 4, 5, 1, 2, 3, 4, 5, 6, 7],
        [1, 2, 3, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    ]
    assert blocks.weights[0].tolist() == [1.0] * 12
    assert blocks.weights[1].tolist() == [1.0] * 12
    assert assistant_mask([4, 9, 5, 7, 8, 2, 4, 5, 6, 2], 5, 2).tolist() == [
        False,
        False,
        False,
        True,
        True,
        True,
        False,
        False,
        True,
        True,
    ]
