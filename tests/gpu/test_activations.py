"""The block-output recorder in bf16 / fp16 and on CUDA: the oracle is `output_hidden_states`."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.gpu.gpu_helpers import DEVICES, LOW_DTYPES, assert_close_scaled, runtime
from welfare.activations.record import record_chats
from welfare.activations.recorder import BlockOutputRecorder
from welfare.activations.render import render_chat
from welfare.model.load import load_model

CHATS = [
    [
        {"role": "user", "content": "You are in a maze . Where do you move ?"},
        {"role": "assistant", "content": "E"},
        {"role": "user", "content": "To the north there is 📇 ; Where do you move ?"},
        {"role": "assistant", "content": "N"},
    ],
    [{"role": "user", "content": "Where do you move ?"}, {"role": "assistant", "content": "W"}],
    [
        {"role": "user", "content": "How are you feeling right now ?"},
        {"role": "assistant", "content": "I feel good"},
    ],
]


@pytest.mark.parametrize("dtype", LOW_DTYPES)
@pytest.mark.parametrize("device", DEVICES)
def test_every_position_equals_output_hidden_states(qwen_dir, device, dtype):
    model, _ = load_model(qwen_dir, runtime(device, dtype))
    torch.manual_seed(0)
    ids = torch.randint(6, model.config.vocab_size, (2, 11), device=device)
    mask = torch.ones_like(ids)
    with BlockOutputRecorder(model) as recorder:
        got = recorder.run(ids, mask, positions=None)
    with torch.no_grad():
        hidden = model(input_ids=ids, attention_mask=mask, output_hidden_states=True).hidden_states
    assert got.device.type == device and got.dtype == dtype
    n_layers = model.config.num_hidden_layers
    assert got.shape == (2, 11, n_layers, model.config.hidden_size)
    for layer in range(n_layers - 1):
        assert_close_scaled(got[:, :, layer], hidden[layer + 1], dtype)
    # The last block is recorded before the final norm (the steering site).
    assert_close_scaled(model.model.norm(got[:, :, -1]), hidden[n_layers], dtype)


@pytest.mark.parametrize("dtype", LOW_DTYPES)
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("side", ["left", "right"])
def test_padded_batch_records_what_each_chat_gives_alone(qwen_dir, side, device, dtype):
    """Batched, padded recording at the last token = hidden_states[l + 1] of the chat run alone,
    unpadded, at its last token (the store's oracle, in the model's dtype on its device)."""
    model, tokenizer = load_model(qwen_dir, runtime(device, dtype))
    chats = [render_chat(tokenizer, chat) for chat in CHATS]
    assert len({c.n_tokens for c in chats}) == len(chats)  # every row is padded differently
    batch = next(record_chats(model, chats, padding_side=side, max_batch_size=len(chats), pad_id=0))
    got = batch.activations
    assert isinstance(got, np.ndarray) and got.dtype == np.float32
    n_layers = model.config.num_hidden_layers
    assert got.shape == (len(chats), 1, n_layers, model.config.hidden_size)
    for row, chat in enumerate(chats):
        ids = torch.tensor([chat.input_ids], device=device)
        with torch.no_grad():
            hidden = model(input_ids=ids, output_hidden_states=True).hidden_states
        for layer in range(n_layers - 1):
            assert_close_scaled(
                torch.from_numpy(got[row, 0, layer]), hidden[layer + 1][0, -1], dtype
            )


@pytest.mark.parametrize("device", DEVICES)
def test_assistant_template_span_on_device(qwen_dir, device):
    """Span capture builds its gather index and validity mask on the model's device."""
    model, tokenizer = load_model(qwen_dir, runtime(device, torch.bfloat16))
    chats = [render_chat(tokenizer, chat) for chat in CHATS]
    spans = next(record_chats(model, chats, position="assistant_template", max_batch_size=3))
    last = next(record_chats(model, chats, position="last", max_batch_size=3))
    np.testing.assert_array_equal(spans.activations[:, -1], last.activations[:, 0])
    widths = [c.n_tokens - c.template_start for c in chats]
    for row, width in enumerate(widths):
        assert np.isnan(spans.activations[row, : spans.activations.shape[1] - width]).all()
        assert not np.isnan(spans.activations[row, -width:]).any()


@pytest.mark.parametrize("device", DEVICES)
def test_store_keeps_bf16_activations_as_float16_on_disk(qwen_dir, tmp_path, device):
    """params.yaml: activations are never bfloat16 on disk. A bf16 (CUDA) model writes the
    store's float16, and the stored values are the recorded ones. Needs zarr (and dask)."""
    pytest.importorskip("zarr")
    pytest.importorskip("dask")
    from welfare.activations.capture import ActivationSettings, capture_to_store
    from welfare.activations.store import open_activations

    model, tokenizer = load_model(qwen_dir, runtime(device, torch.bfloat16))
    chats = [render_chat(tokenizer, chat) for chat in CHATS]
    n = len(chats)
    coords = {"trajectory_id": np.arange(n), "split": np.array(["train"] * n)}
    out = capture_to_store(
        model,
        chats,
        coords,
        tmp_path / "acts.zarr",
        ActivationSettings(dtype="float16"),
        attrs={"model": "tiny"},
    )
    data = open_activations(out)["activations"]
    assert data.dtype == np.float16
    expected = next(
        record_chats(model, chats, position=("letter", "decision"), max_batch_size=n)
    ).activations
    np.testing.assert_allclose(data.values.astype(np.float32), expected, rtol=2e-3, atol=1e-4)
    letter = next(record_chats(model, chats, max_batch_size=n)).activations[:, 0]
    np.testing.assert_allclose(
        data.sel(position="letter").values.astype(np.float32), letter, rtol=2e-3, atol=1e-4
    )
