"""The decision-only last layer gives the plain model's outputs and gradients at the decisions."""

from __future__ import annotations

import pytest
import torch

from welfare.model.load import load_model
from welfare.model.testing import tiny_model_dir
from welfare.rl.kv import PackedCache, split_turn
from welfare.rl.last_layer import last_layer_at_decisions, supports_decision_only
from welfare.rl.policy import decision_logits, hidden_states


def _episodes(vocab: int, rows: int = 5, seed: int = 0) -> tuple[list[list[int]], torch.Tensor]:
    """Token rows of different lengths and 3 decision positions in each."""
    g = torch.Generator().manual_seed(seed)
    lengths = [int(n) for n in torch.randint(12, 30, (rows,), generator=g)]
    tokens = [torch.randint(3, vocab, (n,), generator=g).tolist() for n in lengths]
    index = torch.stack([torch.tensor([2, n // 2, n - 1]) for n in lengths])
    return tokens, index


@pytest.mark.parametrize(("arch", "layers"), [("qwen3", 2), ("llama", 3)])
def test_logits_and_gradients_equal_the_plain_forward(tmp_path, runtime, arch, layers):
    model, _ = load_model(tiny_model_dir(tmp_path, arch, layers=layers), runtime)
    assert supports_decision_only(model)
    tokens, index = _episodes(model.config.vocab_size)
    results = []
    for only in (True, False):
        model.zero_grad(set_to_none=True)
        logits = decision_logits(model, tokens, index, 0, None, decisions_only=only)
        (logits.log_softmax(-1)[..., :7].sum()).backward()
        grads = {n: p.grad.clone() for n, p in model.named_parameters()}
        results.append((logits.detach(), grads))
    (fast, fast_grads), (plain, plain_grads) = results
    torch.testing.assert_close(fast, plain, atol=1e-5, rtol=1e-5)
    assert fast_grads.keys() == plain_grads.keys()
    for name, grad in plain_grads.items():
        torch.testing.assert_close(fast_grads[name], grad, atol=1e-5, rtol=1e-4, msg=name)


def test_other_positions_are_not_computed_and_the_block_comes_back(tiny):
    model, _ = tiny
    last = model.get_decoder().layers[-1]
    ids = torch.randint(3, model.config.vocab_size, (2, 9))
    positions = torch.arange(9).expand(2, 9)
    index = torch.tensor([[4], [8]])
    plain = hidden_states(model, ids, None, positions)
    with last_layer_at_decisions(model, index) as swapped:
        assert swapped and model.get_decoder().layers[-1] is not last
        fast = hidden_states(model, ids, None, positions)
    assert model.get_decoder().layers[-1] is last
    rows = torch.arange(2)[:, None]
    torch.testing.assert_close(fast[rows, index], plain[rows, index], atol=1e-5, rtol=0)
    # Every other position of the last block's output is zero: only the final norm of 0 is left.
    others = torch.ones(2, 9, dtype=torch.bool)
    others[rows, index] = False
    assert torch.all(fast[others] == 0)
    with pytest.raises(RuntimeError), last_layer_at_decisions(model, index):
        raise RuntimeError("interrupted")
    assert model.get_decoder().layers[-1] is last


def test_a_dispatched_last_block_runs_whole(tiny):
    model, _ = tiny
    last = model.get_decoder().layers[-1]
    last.self_attn._hf_hook = object()  # what accelerate's device_map dispatch attaches
    try:
        assert not supports_decision_only(model)
    finally:
        del last.self_attn._hf_hook
    assert supports_decision_only(model)


def test_a_hooked_last_block_runs_whole(tiny):
    model, _ = tiny
    seen = []
    handle = (
        model.get_decoder()
        .layers[-1]
        .register_forward_hook(lambda _module, _args, output: seen.append(output.shape))
    )
    try:
        assert not supports_decision_only(model)
        ids = torch.randint(3, model.config.vocab_size, (1, 6))
        with last_layer_at_decisions(model, torch.tensor([[5]])) as swapped:
            hidden_states(model, ids, None, torch.arange(6)[None])
        assert not swapped and seen and seen[0][:2] == (1, 6)
    finally:
        handle.remove()


@pytest.mark.parametrize("segment", [True, False])
def test_packed_cache_turns_match_the_plain_model_at_each_decision(tiny, segment):
    """Turn by turn through the packed cache (segments included), the decision-only block gives
    the plain full forward's last-position state, and leaves a cache the next turn can use."""
    model, _ = tiny
    g = torch.Generator().manual_seed(3)
    vocab, rows = model.config.vocab_size, 4
    cache = PackedCache(model, capacity=8)
    seen = torch.zeros(rows, dtype=torch.long)
    history: list[list[int]] = [[] for _ in range(rows)]
    for _ in range(4):
        lengths = [int(n) for n in torch.randint(2, 6, (rows,), generator=g)]
        lengths[0] += 9  # one long chunk: two segment rows
        chunks = [torch.randint(3, vocab, (n,), generator=g).tolist() for n in lengths]
        seg = split_turn(chunks, seen, pad_id=0, segment=segment)
        mask = cache.plan(seg.position_ids, seg.rows)
        pick = (seg.last[:, 0], seg.last[:, 1])
        with last_layer_at_decisions(model, pick[1][:, None], pick[0]) as swapped:
            hidden = hidden_states(model, seg.input_ids, mask, seg.position_ids, cache)
        assert swapped
        for b, chunk in enumerate(chunks):
            history[b].extend(chunk)
            full = torch.tensor([history[b]])
            whole = hidden_states(model, full, None, torch.arange(full.shape[1])[None])
            torch.testing.assert_close(hidden[pick][b], whole[0, -1], atol=1e-5, rtol=0)
        seen = seen + torch.tensor(lengths)


def test_lora_adapters_apply_in_the_decision_only_block(tiny):
    from peft import LoraConfig, get_peft_model

    model, _ = tiny
    targets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "down_proj"]
    last = model.config.num_hidden_layers - 1  # adapters on the swapped block only
    config = LoraConfig(
        r=4, target_modules=targets, layers_to_transform=[last], init_lora_weights=False
    )
    lora = get_peft_model(model, config)
    assert supports_decision_only(lora)
    tokens, index = _episodes(model.config.vocab_size, rows=3, seed=1)
    fast = decision_logits(lora, tokens, index, 0, None)
    torch.testing.assert_close(fast, decision_logits(lora, tokens, index, 0, None, False))
    with lora.disable_adapter():
        base = decision_logits(lora, tokens, index, 0, None)
        torch.testing.assert_close(base, decision_logits(lora, tokens, index, 0, None, False))
    assert (fast - base).abs().max() > 1e-3  # the last block's adapters were applied


@pytest.mark.parametrize("layer", [0, 1])
def test_steered_rollouts_are_unchanged_by_the_swap(tiny, small_episodes, layer):
    """Steering an earlier block leaves the swap on (the last block reads the steered stream);
    steering the last block turns it off. Either way the policy is the plain model's."""
    from welfare.rl.rollout import rollout
    from welfare.steering import steering

    model, tokenizer = tiny
    vector = torch.randn(model.config.hidden_size, generator=torch.Generator().manual_seed(0))
    plays = []
    for only in (True, False):
        with steering(model, {layer: 4.0 * vector}):
            assert supports_decision_only(model) == (layer == 0)
            plays.append(
                rollout(
                    model,
                    tokenizer,
                    small_episodes(),
                    greedy=True,
                    decisions_only=only,
                )
            )
    unsteered = rollout(model, tokenizer, small_episodes(), greedy=True)
    assert torch.equal(plays[0].actions, plays[1].actions)
    torch.testing.assert_close(plays[0].logp, plays[1].logp, atol=1e-5, rtol=0)
    assert not torch.allclose(plays[0].logp, unsteered.logp, atol=1e-3)  # the steering acted


def test_sliding_window_and_unknown_architectures_run_the_plain_block():
    from transformers import GPT2Config, GPT2LMHeadModel, MistralConfig, MistralForCausalLM

    shared = dict(
        vocab_size=50,
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
    )
    assert supports_decision_only(MistralForCausalLM(MistralConfig(sliding_window=None, **shared)))
    windowed = MistralForCausalLM(MistralConfig(sliding_window=4, **shared))
    assert not supports_decision_only(windowed)
    gpt2 = GPT2LMHeadModel(GPT2Config(vocab_size=50, n_embd=16, n_layer=1, n_head=2))
    assert not supports_decision_only(gpt2)


def test_a_mask_shared_by_the_batch_is_read_per_row():
    from welfare.rl.last_layer import _visible

    causal = torch.ones(4, 4, dtype=torch.bool).tril()[None, None]  # [1, 1, 4, 4]
    index = torch.tensor([[1], [3]])
    expected = torch.arange(4) <= index[..., None]
    assert torch.equal(_visible(causal, index, 4), expected)
    padding = torch.tensor([[1, 1, 0, 0], [1, 1, 1, 1]])
    assert torch.equal(_visible(padding, index, 4), expected & padding.bool()[:, None])
    assert torch.equal(_visible(None, index, 4), expected)
