from __future__ import annotations

import pytest
import torch

from tests.steering.conftest import build_tiny_model
from welfare.steering.hooks import steering
from welfare.steering.layers import find_decoder_stack
from welfare.steering.masks import encode_chats

CHATS = [
    [{"role": "user", "content": "How are you feeling right now?"}],
    [
        {"role": "user", "content": "What is 3 plus 4?"},
        {"role": "assistant", "content": "7"},
        {"role": "user", "content": "Is your proposed answer correct?"},
    ],
]


@pytest.fixture(scope="module", params=["qwen3", "llama"])
def model(request, chat_tokenizer):
    return build_tiny_model(chat_tokenizer, arch=request.param)


@pytest.fixture(scope="module")
def batch(chat_tokenizer):
    return encode_chats(chat_tokenizer, CHATS)


def _vector(model, scale=3.0, seed=1):
    g = torch.Generator().manual_seed(seed)
    return scale * torch.randn(model.config.hidden_size, generator=g)


def _block_outputs(model, batch, **kw):
    """Record every block's output with hooks registered after steering's (they see the sum)."""
    stack = find_decoder_stack(model)
    seen: dict[int, torch.Tensor] = {}
    handles = [
        block.register_forward_hook(
            lambda _m, _a, out, i=i: seen.__setitem__(
                i, (out[0] if isinstance(out, tuple) else out).clone()
            )
        )
        for i, block in enumerate(stack.blocks)
    ]
    try:
        with torch.no_grad():
            logits = model(
                input_ids=batch.input_ids, attention_mask=batch.attention_mask, **kw
            ).logits
    finally:
        for h in handles:
            h.remove()
    return logits, seen


def _gen(model, batch, n=6, **kw):
    return model.generate(
        input_ids=batch.input_ids,
        attention_mask=batch.attention_mask,
        max_new_tokens=n,
        do_sample=False,
        pad_token_id=0,
        eos_token_id=None,
        **kw,
    )


def test_alpha_zero_is_bitwise_unsteered(model, batch):
    with torch.no_grad():
        ref = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask).logits
        ref_gen = _gen(model, batch)
        with steering(model, {1: 0.0 * _vector(model)}, batch.steer_mask):
            assert not find_decoder_stack(model).blocks[1]._forward_hooks
            out = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask).logits
            gen = _gen(model, batch)
    assert torch.equal(ref, out)
    assert torch.equal(ref_gen, gen)


def test_delta_is_alpha_v_on_exactly_the_masked_positions(model, batch):
    layer, vec = 1, _vector(model)
    _, base = _block_outputs(model, batch)
    with steering(model, {layer: vec}, batch.steer_mask):
        _, steered = _block_outputs(model, batch)
    for i in range(layer):  # blocks before the hooked one are untouched, bit for bit
        assert torch.equal(base[i], steered[i])
    delta = steered[layer] - base[layer]
    mask = batch.steer_mask
    assert mask.sum() == 2 + 7  # header of row 0; two assistant turns of row 1
    torch.testing.assert_close(delta[mask], vec.expand(int(mask.sum()), -1), atol=1e-5, rtol=0)
    assert torch.equal(steered[layer][~mask], base[layer][~mask])
    # later blocks do change (the addition propagates), so the test above can fail
    assert not torch.allclose(steered[layer + 1], base[layer + 1])


def test_kv_cached_generation_matches_full_recompute(model, batch):
    """Generate with the cache, then recompute the whole sequence at once, steered with the
    prompt mask plus every generated position: greedy choices and logits must agree."""
    vec, n = _vector(model, 4.0), 6
    with torch.no_grad(), steering(model, {1: vec}, batch.steer_mask):
        out = _gen(model, batch, n, output_scores=True, return_dict_in_generate=True)
    seq = out.sequences
    prompt_len = batch.input_ids.shape[1]
    full_mask = torch.cat([batch.steer_mask, torch.ones(len(batch), n, dtype=torch.bool)], 1)
    attention = torch.cat([batch.attention_mask, torch.ones(len(batch), n, dtype=torch.long)], 1)
    with torch.no_grad(), steering(model, {1: vec}, full_mask, steer_generated=False):
        logits = model(input_ids=seq, attention_mask=attention).logits
    for step in range(n):
        torch.testing.assert_close(
            logits[:, prompt_len - 1 + step], out.scores[step], atol=1e-4, rtol=1e-4
        )
    # and steering matters for the generated tokens (the comparison above is not vacuous)
    with torch.no_grad():
        plain = _gen(model, batch, n, output_scores=True, return_dict_in_generate=True)
    assert not torch.allclose(plain.scores[-1], out.scores[-1], atol=1e-3)


def test_batched_left_padded_equals_single_rows(model, chat_tokenizer, batch):
    vec = _vector(model, 4.0)
    with torch.no_grad(), steering(model, {1: vec}, batch.steer_mask):
        both = _gen(model, batch, 4, output_scores=True, return_dict_in_generate=True).scores
    for row, chat in enumerate(CHATS):
        single = encode_chats(chat_tokenizer, [chat])
        with torch.no_grad(), steering(model, {1: vec}, single.steer_mask):
            alone = _gen(model, single, 4, output_scores=True, return_dict_in_generate=True).scores
        for a, b in zip(alone, both, strict=True):
            torch.testing.assert_close(a[0], b[row], atol=1e-4, rtol=1e-4)


def test_layer_list_and_hooks_removed_even_on_error(model, batch):
    stack = find_decoder_stack(model)
    before = [len(b._forward_hooks) for b in stack.blocks], len(stack.body._forward_pre_hooks)
    with (
        pytest.raises(RuntimeError, match="boom"),
        steering(model, {0: _vector(model), 2: _vector(model, seed=2)}, batch.steer_mask),
    ):
        assert len(stack.blocks[0]._forward_hooks) == before[0][0] + 1
        assert len(stack.blocks[2]._forward_hooks) == before[0][2] + 1
        assert len(stack.blocks[1]._forward_hooks) == before[0][1]
        raise RuntimeError("boom")
    after = [len(b._forward_hooks) for b in stack.blocks], len(stack.body._forward_pre_hooks)
    assert after == before


def test_wrong_batch_and_layer_rejected(model, batch):
    with pytest.raises(IndexError), steering(model, {99: _vector(model)}):
        pass
    with (
        torch.no_grad(),
        pytest.raises(ValueError, match="batch"),
        steering(model, {1: _vector(model)}, batch.steer_mask[:1]),
    ):
        model(input_ids=batch.input_ids, attention_mask=batch.attention_mask)


class _TupleBlock(torch.nn.Module):
    """A block in the older transformers style: returns (hidden, attention weights)."""

    def forward(self, hidden):
        return hidden * 2.0, None


class _TupleModel(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.config = type("Config", (), {"num_hidden_layers": 2})()
        self.layers = torch.nn.ModuleList([_TupleBlock(), _TupleBlock()])

    def forward(self, hidden):
        for block in self.layers:
            hidden = block(hidden)[0]
        return hidden


def test_tuple_block_outputs_and_full_mask():
    model = _TupleModel()
    hidden = torch.ones(2, 3, 4)
    vec = torch.arange(4.0)
    mask = torch.tensor([[False, True, True], [True, False, False]])
    with torch.no_grad(), steering(model, {0: vec}, mask):
        out = model(hidden)
    expected = hidden * 2.0
    expected[mask] += vec
    torch.testing.assert_close(out, expected * 2.0)
    with torch.no_grad(), steering(model, {1: vec}):  # no mask: every position
        out = model(hidden)
    torch.testing.assert_close(out, hidden * 4.0 + vec)
