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


def test_packed_positions_restart_and_isolate_documents() -> None:
    """A packed document's loss equals its loss read alone: with `document_mask` nothing of the
    documents before it in the block leaks in (and the padding tail is a document of its own)."""
    import torch
    from transformers import AutoModelForCausalLM

    from welfare.model.pretrain import weighted_loss
    from welfare.model.testing import tiny_config

    torch.manual_seed(0)
    vocab = 64
    model = AutoModelForCausalLM.from_config(tiny_config("qwen3", vocab)).eval()
    rng = np.random.default_rng(0)
    docs = [(list(rng.integers(6, vocab, n)), np.ones(n, dtype=np.float32)) for n in (6, 9, 4)]
    blocks = pack(docs, seq_len=23, pad_id=0)
    assert blocks.positions[0].tolist() == [*range(6), *range(9), *range(4), *range(5)]
    with torch.no_grad():
        for i, (ids, w) in enumerate(docs):
            alone, _ = weighted_loss(model, torch.tensor([ids]), torch.tensor(w[None]))
            mask = np.zeros_like(blocks.weights)
            start = [0, 6, 15][i]
            mask[0, start + 1 : start + len(ids)] = 1  # targets inside document i
            packed, _ = weighted_loss(
                model,
                torch.from_numpy(blocks.ids),
                torch.from_numpy(mask),
                torch.from_numpy(blocks.positions),
            )
            torch.testing.assert_close(packed, alone, rtol=1e-5, atol=1e-6)
            if i:  # without document masking the earlier documents do leak in
                leaky, _ = weighted_loss(
                    model, torch.from_numpy(blocks.ids), torch.from_numpy(mask)
                )
                assert abs(float(leaky) - float(alone)) > 1e-4
