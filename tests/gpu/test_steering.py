"""Steering hooks in bf16 / fp16 and on CUDA: α = 0 is bitwise the model, α ≠ 0 adds exactly
α·v (cast to the model's dtype) at the masked positions, hooks never outlive the block, and
KV-cached generation steers every decode step like a full forward does."""

from __future__ import annotations

import pytest
import torch

from tests.gpu.gpu_helpers import DEVICES, LOW_DTYPES, assert_close_scaled, runtime
from welfare.model.load import load_model
from welfare.steering.generate import next_token_logits
from welfare.steering.hooks import steering
from welfare.steering.layers import find_decoder_stack
from welfare.steering.masks import encode_chats

CHATS = [
    [
        {"role": "user", "content": "How are you feeling right now ?"},
        {"role": "assistant", "content": "I feel good"},
        {"role": "user", "content": "What do you think of 🌳 ?"},
    ],
    [{"role": "user", "content": "Is your proposed answer correct ?"}],
]
LAYER = 1


def _setup(model_dir, device, dtype):
    model, tokenizer = load_model(model_dir, runtime(device, dtype))
    enc = encode_chats(tokenizer, CHATS, True, "all")
    assert enc.attention_mask[1, 0] == 0  # the short chat is left-padded
    assert enc.steer_mask.any(1).all() and not enc.steer_mask.all()
    # A float32 vector on the CPU, as `vector_set` builds it: the hook must cast it.
    torch.manual_seed(1)
    vector = torch.randn(model.config.hidden_size) * 4.0
    return model, tokenizer, enc, vector


def _logits(model, enc, device):
    with torch.no_grad():
        return model(
            input_ids=enc.input_ids.to(device), attention_mask=enc.attention_mask.to(device)
        ).logits


def _hook_counts(model):
    stack = find_decoder_stack(model)
    return [len(stack.body._forward_pre_hooks)] + [len(b._forward_hooks) for b in stack.blocks]


@pytest.mark.parametrize("dtype", LOW_DTYPES)
@pytest.mark.parametrize("device", DEVICES)
def test_alpha_zero_is_bitwise_the_unsteered_model(qwen_dir, device, dtype):
    model, tokenizer, enc, vector = _setup(qwen_dir, device, dtype)
    plain = _logits(model, enc, device)
    before = _hook_counts(model)
    with steering(model, {LAYER: 0.0 * vector.to(device)}, enc.steer_mask.to(device)):
        assert _hook_counts(model) == before  # no hook at all
        steered = _logits(model, enc, device)
    assert torch.equal(plain, steered)
    # The P(True) readout path: numpy float64 out, whatever the model's device and dtype.
    ids = [tokenizer.convert_tokens_to_ids(w) for w in ("True", "False")]
    zero = next_token_logits(model, tokenizer, CHATS, ids, {LAYER: 0.0 * vector})
    none = next_token_logits(model, tokenizer, CHATS, ids, {})
    assert zero.dtype.name == "float64" and (zero == none).all()
    moved = next_token_logits(model, tokenizer, CHATS, ids, {LAYER: vector})
    assert (abs(moved - none) > 1e-3).any()


@pytest.mark.parametrize("dtype", LOW_DTYPES)
@pytest.mark.parametrize("device", DEVICES)
def test_nonzero_alpha_adds_the_cast_vector_at_masked_positions_only(qwen_dir, device, dtype):
    model, _, enc, vector = _setup(qwen_dir, device, dtype)
    block = find_decoder_stack(model).blocks[LAYER]
    seen: list[torch.Tensor] = []

    def capture(_module, _args, output):
        seen.append((output[0] if isinstance(output, tuple) else output).detach().clone())

    handle = block.register_forward_hook(capture)
    try:
        plain_logits = _logits(model, enc, device)
    finally:
        handle.remove()
    with steering(model, {LAYER: vector}, enc.steer_mask):  # mask left on the CPU
        handle = block.register_forward_hook(capture)  # runs after the steering hook
        try:
            steered_logits = _logits(model, enc, device)
        finally:
            handle.remove()
    plain, steered = seen
    assert steered.dtype == dtype and steered.device.type == device
    mask = enc.steer_mask.to(device)[..., None]
    expected = torch.where(mask, plain + vector.to(device=device, dtype=dtype), plain)
    assert torch.equal(steered, expected)
    # Logits: unchanged before each row's first steered position, changed where steered.
    first = enc.steer_mask.float().argmax(1)
    for row in range(len(CHATS)):
        f = int(first[row])
        real = enc.attention_mask[row].bool()
        real[f:] = False
        assert_close_scaled(steered_logits[row, real], plain_logits[row, real], dtype)
        hit = enc.steer_mask[row]
        change = (steered_logits[row, hit] - plain_logits[row, hit]).float().abs().amax(-1)
        assert (change > 0.1 * plain_logits.float().abs().max()).all()


@pytest.mark.parametrize("device", DEVICES)
def test_hooks_are_removed_after_an_exception(qwen_dir, device):
    model, _, enc, vector = _setup(qwen_dir, device, torch.bfloat16)
    plain = _logits(model, enc, device)
    before = _hook_counts(model)
    with (
        pytest.raises(RuntimeError, match="inside steering"),
        steering(model, {LAYER: vector, LAYER + 1: vector}, enc.steer_mask.to(device)),
    ):
        assert _hook_counts(model) != before
        _logits(model, enc, device)
        raise RuntimeError("inside steering")
    assert _hook_counts(model) == before
    assert torch.equal(_logits(model, enc, device), plain)


@pytest.mark.parametrize("dtype", LOW_DTYPES)
@pytest.mark.parametrize("device", DEVICES)
def test_kv_cached_generation_is_steered_like_a_full_forward(qwen_dir, device, dtype):
    """Greedy KV-cached `generate` under steering: the logits of every decode step equal one
    full forward over the final sequence under the same steering (prompt mask + every generated
    token), and they differ from unsteered generation (the hook fires on cached steps too)."""
    model, tokenizer, enc, vector = _setup(qwen_dir, device, dtype)
    on = {k: v.to(device) for k, v in enc.__dict__.items() if torch.is_tensor(v)}
    new = 5

    def generate(additions):
        with steering(model, additions, on["steer_mask"]):
            return model.generate(
                input_ids=on["input_ids"],
                attention_mask=on["attention_mask"],
                max_new_tokens=new,
                min_new_tokens=new,
                do_sample=False,
                use_cache=True,
                output_logits=True,
                return_dict_in_generate=True,
                pad_token_id=0,
            )

    steered = generate({LAYER: vector})
    plain = generate({})
    zero = generate({LAYER: 0.0 * vector})
    assert torch.equal(zero.sequences, plain.sequences)
    step_logits = torch.stack(steered.logits, dim=1)  # (batch, new, vocab)
    prompt_len = on["input_ids"].shape[1]
    sequences = steered.sequences
    attention = torch.cat([on["attention_mask"], torch.ones_like(sequences[:, prompt_len:])], dim=1)
    positions = (attention.cumsum(1) - 1).clamp(min=0)
    with torch.no_grad(), steering(model, {LAYER: vector}, on["steer_mask"]):
        full = model(
            input_ids=sequences[:, :-1],
            attention_mask=attention[:, :-1],
            position_ids=positions[:, :-1],
            use_cache=False,
        ).logits
    assert_close_scaled(step_logits, full[:, prompt_len - 1 :], dtype)
    # Decode steps after the first read the cache: they are steered too.
    plain_steps = torch.stack(plain.logits, dim=1)
    later = (step_logits[:, 1:] - plain_steps[:, 1:]).float().abs().amax(-1)
    assert (later > 0.1 * plain_steps.float().abs().max()).all()
