"""The packed KV cache and turn segments give exactly what one forward over each row would."""

from __future__ import annotations

import os

import pytest
import torch

from welfare.rl.kv import PackedCache, native_gqa, split_turn
from welfare.rl.policy import hidden_states
from welfare.rl.rollout import rollout


def test_split_turn_cuts_long_chunks_into_rows_of_the_common_width():
    chunks = [[1] * 18, [2] * 29, [3] * 18, [4] * 18]
    seen = torch.tensor([0, 5, 7, 9])
    seg = split_turn(chunks, seen, pad_id=0)
    # width 18: the 29-token chunk takes two rows (18 + 11 padded), the others one each
    assert seg.input_ids.shape == (5, 18)
    # first segments first (row b = episode b), then the extra one
    assert seg.rows.tolist() == [0, 1, 2, 3, 1]
    assert seg.position_ids[:, 0].tolist() == [0, 5, 7, 9, 23]
    assert seg.input_ids[4].tolist() == [2] * 11 + [0] * 7
    assert seg.last.tolist() == [[0, 17], [4, 10], [2, 17], [3, 17]]


def test_split_turn_keeps_one_row_per_episode_when_asked_or_when_lengths_agree():
    chunks = [[1] * 3, [2] * 7]
    seg = split_turn(chunks, torch.tensor([4, 0]), pad_id=9, segment=False)
    assert seg.rows is None
    assert seg.input_ids.tolist() == [[1, 1, 1, 9, 9, 9, 9], [2] * 7]
    assert seg.position_ids.tolist() == [list(range(4, 11)), list(range(7))]
    assert seg.last.tolist() == [[0, 2], [1, 6]]
    same = split_turn([[1] * 5, [2] * 5], torch.tensor([0, 3]), pad_id=0)
    assert same.rows is None and same.input_ids.shape == (2, 5)


@pytest.mark.parametrize("segment", [True, False])
def test_split_turn_rows_reassemble_every_chunk_at_its_positions(segment):
    g = torch.Generator().manual_seed(3)
    for _ in range(200):
        n = int(torch.randint(1, 10, (1,), generator=g))
        chunks = [
            torch.randint(1, 99, (int(torch.randint(1, 31, (1,), generator=g)),), generator=g)
            for _ in range(n)
        ]
        chunks = [c.tolist() for c in chunks]
        seen = torch.randint(0, 50, (n,), generator=g)
        seg = split_turn(chunks, seen, pad_id=0, segment=segment)
        rows = seg.rows.tolist() if seg.rows is not None else list(range(n))
        assert rows[:n] == list(range(n))  # first segments first: row b is episode b
        width = seg.input_ids.shape[1]
        lengths = [len(c) for c in chunks]
        if segment:  # no other chunk length pads less
            padded = sum(-(-n // width) * width for n in lengths)
            assert all(padded <= sum(-(-n // w) * w for n in lengths) for w in set(lengths))
        else:
            assert width == max(lengths) and seg.rows is None
        for b, chunk in enumerate(chunks):
            mine = [r for r, episode in enumerate(rows) if episode == b]
            tokens = torch.cat([seg.input_ids[r] for r in mine])
            positions = torch.cat([seg.position_ids[r] for r in mine])
            assert tokens[: len(chunk)].tolist() == chunk
            assert (tokens[len(chunk) :] == 0).all()
            assert positions.tolist() == list(range(int(seen[b]), int(seen[b]) + len(positions)))
            row, column = seg.last[b].tolist()
            assert seg.position_ids[row, column] == seen[b] + len(chunk) - 1


def test_split_turn_refuses_an_empty_chunk():
    with pytest.raises(ValueError, match="at least one token"):
        split_turn([[1, 2], []], torch.tensor([0, 0]), pad_id=0)


def _turns(seed: int, rows: int, turns: int, vocab: int) -> list[list[list[int]]]:
    """Random chunks per turn, lengths differing across rows (and some rows much longer)."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(turns):
        lengths = [int(torch.randint(1, 5, (1,), generator=g)) for _ in range(rows)]
        for _ in range(1 + len(out) % 3):  # "wind sentences": 1-3 long rows, the spares grow
            lengths[int(torch.randint(rows, (1,), generator=g))] += 9
        out.append([torch.randint(3, vocab, (n,), generator=g).tolist() for n in lengths])
    return out


@pytest.mark.parametrize("segment", [True, False])
def test_packed_cache_matches_one_forward_over_each_whole_row(tiny, segment, monkeypatch):
    model, _ = tiny
    # The cache's buffers are uninitialised; make that garbage NaN: nothing may leak from it.
    monkeypatch.setattr(
        torch.Tensor, "new_empty", lambda self, shape: torch.full(shape, float("nan"))
    )
    vocab = model.config.vocab_size
    turns = _turns(0, rows=4, turns=5, vocab=vocab)
    cache = PackedCache(model, capacity=8)  # small: the buffer has to grow on the way
    seen = torch.zeros(4, dtype=torch.long)
    history: list[list[int]] = [[] for _ in range(4)]
    segmented = 0
    for chunks in turns:
        seg = split_turn(chunks, seen, pad_id=0, segment=segment)
        segmented += seg.rows is not None
        mask = cache.plan(seg.position_ids, seg.rows)
        with torch.no_grad():
            hidden = hidden_states(model, seg.input_ids, mask, seg.position_ids, cache)
        for b, chunk in enumerate(chunks):
            history[b] += chunk
            # every real token of the turn, wherever its segment row put it
            got = torch.stack([hidden[rows_and_cols(seg, b, j)] for j in range(len(chunk))])
            ids = torch.tensor([history[b]])
            with torch.no_grad():
                alone = hidden_states(
                    model, ids, torch.ones_like(ids), torch.arange(ids.shape[1])[None]
                )[0]
            torch.testing.assert_close(got, alone[-len(chunk) :], atol=1e-5, rtol=1e-4)
        seen += torch.tensor([len(c) for c in chunks])
    assert (segmented > 0) == segment


def rows_and_cols(seg, episode: int, j: int) -> tuple[int, int]:
    """(row, column) of token j of `episode`'s chunk in the segment layout."""
    width = seg.input_ids.shape[1]
    rows = list(range(len(seg.input_ids))) if seg.rows is None else seg.rows.tolist()
    segments = [row for row, e in enumerate(rows) if e == episode]  # in order: 1st, 2nd, ...
    return segments[j // width], j % width


def test_packed_cache_stores_no_padding_columns(tiny):
    model, _ = tiny
    cache = PackedCache(model)
    seen = torch.zeros(3, dtype=torch.long)
    padded = 0  # what a cache of right-padded turn chunks would hold
    for chunks in _turns(1, rows=3, turns=4, vocab=model.config.vocab_size):
        seg = split_turn(chunks, seen, pad_id=0, segment=False)
        mask = cache.plan(seg.position_ids, seg.rows)
        with torch.no_grad():
            hidden_states(model, seg.input_ids, mask, seg.position_ids, cache)
        seen += torch.tensor([len(c) for c in chunks])
        padded += max(len(c) for c in chunks)
        # the attention spans at most the longest row plus this turn's padding
        assert cache.get_seq_length() <= int(seen.max()) + seg.input_ids.shape[1]
    assert cache.get_seq_length() < padded


def test_rollout_with_a_hook_keeps_one_row_per_episode_and_the_same_policy(tiny, small_episodes):
    model, tokenizer = tiny
    chunks = []
    hooked = rollout(
        model,
        tokenizer,
        small_episodes(),
        temperature=1.0,
        generator=torch.Generator().manual_seed(0),
        before_forward=chunks.append,
    )
    plain = rollout(
        model,
        tokenizer,
        small_episodes(),
        temperature=1.0,
        generator=torch.Generator().manual_seed(0),
    )
    assert all(c.input_ids.shape[0] == len(hooked.tokens) for c in chunks)
    # wind made some turns longer for a few rows: those turns were padded, not segmented
    assert any((c.attention_mask[:, -c.input_ids.shape[1] :] == 0).any() for c in chunks)
    assert torch.equal(hooked.actions, plain.actions)
    torch.testing.assert_close(hooked.logp, plain.logp, atol=1e-5, rtol=0)


def test_eager_attention_takes_an_additive_mask(tiny_dir, runtime):
    from transformers import AutoModelForCausalLM

    eager = AutoModelForCausalLM.from_pretrained(tiny_dir, attn_implementation="eager")
    sdpa = AutoModelForCausalLM.from_pretrained(tiny_dir, attn_implementation="sdpa")
    chunks = [[5, 6, 7], [8, 9, 10, 11, 12, 13]]
    outs = []
    for model in (eager, sdpa):
        cache = PackedCache(model)
        seg = split_turn(chunks, torch.tensor([0, 0]), pad_id=0)
        mask = cache.plan(seg.position_ids, seg.rows)
        assert mask.dtype == (torch.bool if model is sdpa else torch.float32)
        with torch.no_grad():
            outs.append(hidden_states(model, seg.input_ids, mask, seg.position_ids, cache))
    torch.testing.assert_close(outs[0][0, :3], outs[1][0, :3], atol=1e-5, rtol=1e-4)


def test_sliding_window_models_are_refused_past_the_window(tiny):
    model, _ = tiny
    cache = PackedCache(model)
    cache._window = 4  # as a sliding-window config would set it
    with pytest.raises(ValueError, match="sliding-window"):
        cache.plan(torch.arange(6)[None], None)


def test_native_gqa_switch_is_restored():
    before = os.environ.get("TRANSFORMERS_SDPA_FORCE_GQA")
    with native_gqa(torch.device("cpu")):
        assert os.environ["TRANSFORMERS_SDPA_FORCE_GQA"] == "1"
    assert os.environ.get("TRANSFORMERS_SDPA_FORCE_GQA") == before
