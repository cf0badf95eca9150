"""The policy's decoder call and output head."""

from __future__ import annotations

import torch

from welfare.rl.policy import adapter_compute_dtype, cache_keyword, hidden_states


class _NewStyle(torch.nn.Module):  # transformers ≥ 5.2x: `cache`
    def forward(self, input_ids=None, cache=None, use_cache=None, **kwargs):
        return cache


class _OldStyle(torch.nn.Module):  # earlier transformers: `past_key_values`, and `**kwargs`
    def forward(self, input_ids=None, past_key_values=None, use_cache=None, **kwargs):
        return past_key_values


def test_the_cache_goes_by_the_name_the_forward_takes() -> None:
    cache = object()
    for module in (_NewStyle(), _OldStyle()):
        # The wrong name would be swallowed by **kwargs and the model would run uncached.
        assert module(**{cache_keyword(module): cache}) is cache
    assert cache_keyword(_NewStyle()) == "cache"
    assert cache_keyword(_OldStyle()) == "past_key_values"


def _saved_bytes(fn) -> int:
    """Bytes of the (distinct) tensors autograd saves for the backward pass during `fn()`."""
    saved: dict[int, int] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        saved[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        fn()
    return sum(saved.values())


def test_lora_on_a_bf16_base_computes_in_bf16_and_keeps_float32_master_weights(tiny_dir):
    from welfare.model.load import load_model

    lora = {"rank": 8, "alpha": 16, "dropout": 0.0, "target_modules": "all-linear"}
    fp32, _ = load_model(tiny_dir, {"device": "cpu", "dtype": "float32"}, lora=lora)
    assert adapter_compute_dtype(fp32) is None  # the default organism's path: untouched
    model, tokenizer = load_model(tiny_dir, {"device": "cpu", "dtype": "bfloat16"}, lora=lora)
    assert adapter_compute_dtype(model) == torch.bfloat16
    adapters = [p for name, p in model.named_parameters() if "lora_" in name]
    assert adapters and all(p.dtype == torch.float32 for p in adapters)  # the optimizer's copy
    torch.manual_seed(0)
    for p in adapters:  # non-zero B: the adapters take part in the forward
        p.data.normal_(0, 0.05)
    ids = torch.randint(10, len(tokenizer), (2, 24))
    positions = torch.arange(24).expand(2, -1)
    decoder = model.get_decoder()

    def peft_float32() -> torch.Tensor:  # peft's own path: inputs cast to float32
        return decoder(input_ids=ids, position_ids=positions).last_hidden_state

    def mixed() -> torch.Tensor:
        return hidden_states(model, ids, None, positions)

    torch.testing.assert_close(mixed(), peft_float32(), atol=0.05, rtol=0.05)
    # float32 copies of every adapted input are what the mixed path no longer saves
    assert _saved_bytes(mixed) < 0.85 * _saved_bytes(peft_float32)
    mixed().float().square().mean().backward()
    assert all(p.grad is not None and p.grad.dtype == torch.float32 for p in adapters)
