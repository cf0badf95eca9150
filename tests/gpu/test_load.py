"""`welfare.model.load_model` in low precision and on CUDA: device, dtype, LoRA, chat template."""

from __future__ import annotations

import pytest
import torch

from tests.gpu.gpu_helpers import DEVICES, HAS_CUDA, LOW_DTYPES, assert_on_device, runtime
from welfare.model.load import direction_token_ids, load_model

MOVE = [{"role": "user", "content": "You are in a maze . Where do you move ?"}]


def _encode(tokenizer, device: str) -> torch.Tensor:
    ids = tokenizer.apply_chat_template(
        MOVE, add_generation_prompt=True, tokenize=True, return_dict=False
    )
    return torch.tensor([list(ids)], device=device)


@pytest.mark.parametrize("dtype", LOW_DTYPES)
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("arch", ["qwen3", "llama"])
def test_loaded_model_lands_on_the_device_and_dtype(request, arch, device, dtype):
    model_dir = request.getfixturevalue(f"{'qwen' if arch == 'qwen3' else 'llama'}_dir")
    model, tokenizer = load_model(model_dir, runtime(device, dtype))
    assert not model.training
    assert model.dtype == dtype
    assert_on_device(model, device, dtype)
    # The chat template renders and the answer letters are single, distinct tokens.
    assert set(direction_token_ids(tokenizer)) == {"N", "E", "S", "W"}
    ids = _encode(tokenizer, device)
    assert ids.shape[1] > 5 and int(ids.max()) < model.get_input_embeddings().num_embeddings
    with torch.no_grad():
        logits = model(input_ids=ids, attention_mask=torch.ones_like(ids)).logits
    assert logits.device.type == device and logits.dtype == dtype
    assert torch.isfinite(logits).all()
    # Same weights in float32 on CPU: the low-precision forward is a rounding of it.
    reference, _ = load_model(model_dir, runtime("cpu", torch.float32))
    with torch.no_grad():
        expected = reference(input_ids=ids.cpu()).logits
    scale = expected.abs().max()
    assert (logits.float().cpu() - expected).abs().max() <= 5e-2 * scale


def test_auto_device_picks_cuda_when_there_is_one(qwen_dir):
    model, _ = load_model(qwen_dir, {"device": "auto", "dtype": "bfloat16"})
    expected = "cuda" if HAS_CUDA else "cpu"
    assert_on_device(model, expected, torch.bfloat16)


@pytest.mark.parametrize("dtype", LOW_DTYPES)
@pytest.mark.parametrize("device", DEVICES)
def test_lora_wraps_the_low_precision_model_and_trains(qwen_dir, device, dtype):
    lora = {"rank": 4, "alpha": 8, "dropout": 0.0, "target_modules": "all-linear"}
    model, tokenizer = load_model(qwen_dir, runtime(device, dtype), lora=lora)
    assert hasattr(model, "peft_config")
    assert_on_device(model, device, dtype)  # base weights keep the runtime dtype
    trainable = {n: p for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n for n in trainable)
    ids = _encode(tokenizer, device)
    with torch.no_grad():
        before = model(input_ids=ids).logits
    assert before.dtype == dtype  # the adapter does not silently upcast the residual stream
    # Zero-initialised B: the wrapped model is the base model until it trains.
    base, _ = load_model(qwen_dir, runtime(device, dtype))
    with torch.no_grad():
        assert torch.equal(base(input_ids=ids).logits, before)
    model.train()
    loss = model(input_ids=ids, labels=ids).loss
    assert torch.isfinite(loss)
    loss.backward()
    grads = [p.grad for n, p in trainable.items() if "lora_B" in n]
    assert all(g is not None and g.device.type == device for g in grads)
    assert all(torch.isfinite(g).all() for g in grads)
    assert any(g.abs().sum() > 0 for g in grads)
