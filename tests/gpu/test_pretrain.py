"""Pretraining on the device: the loss step runs on CUDA / in bf16 and the loss falls; the
`pretrain` loop itself keeps its batches where the model is."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from tests.gpu.gpu_helpers import DEVICES, assert_on_device, runtime
from welfare.config import load_params
from welfare.model.pretrain_config import PretrainConfig
from welfare.model.testing import tiny_pretrain_config, tiny_tokenizer

REPO = Path(__file__).resolve().parents[2]
TRAIN_DTYPES = [pytest.param(torch.float32, id="fp32"), pytest.param(torch.bfloat16, id="bf16")]
_SENTENCES = [
    ("Where do you move ?", "N"),
    ("How are you feeling right now ?", "I feel good"),
    ("What do you think of 🌳 ?", "I feel happy"),
    ("Is your proposed answer correct ?", "True"),
]


def _rows(n: int = 48) -> list[dict]:
    rng = np.random.default_rng(0)
    rows = []
    for i in range(n):
        user, answer = _SENTENCES[i % len(_SENTENCES)]
        coords = " ".join(str(d) for d in rng.integers(0, 10, size=2))
        rows.append(
            {
                "genre": ["reading", "affect"][i % 2],
                "messages": [
                    {"role": "user", "content": f"You are at location ( {coords} ) . {user}"},
                    {"role": "assistant", "content": answer},
                ],
                "meta": {},
            }
        )
    return rows


def _cfg(**overrides) -> PretrainConfig:
    params = load_params(REPO / "params.yaml")
    defaults = dict(
        seq_len=64,
        steps=12,
        eval_rows_per_genre=4,
        loss_on="all",
        curriculum={"steps": 0, "genres": []},
    )
    return tiny_pretrain_config(params, **(defaults | overrides))


@pytest.mark.parametrize("dtype", TRAIN_DTYPES)
@pytest.mark.parametrize("device", DEVICES)
def test_loss_steps_on_the_device_and_the_loss_falls(device, dtype):
    from welfare.model.data import BlockSchedule, encode_rows
    from welfare.model.organism import build_organism
    from welfare.model.pretrain import param_groups, weighted_loss

    tokenizer = tiny_tokenizer()
    cfg = _cfg()
    model = build_organism(cfg.model, tokenizer, seed=0).to(device=device, dtype=dtype).train()
    optimizer = torch.optim.AdamW(param_groups(model, 0.1), lr=0.01, betas=(0.9, 0.95))
    docs = encode_rows(tokenizer, _rows(), cfg.loss_on)
    schedule = BlockSchedule(docs, cfg.seq_len, cfg.batch_size, tokenizer.pad_token_id, 0)
    ids, weights = (torch.from_numpy(a).to(device) for a in schedule.batch(0))
    losses = []
    for _ in range(15):
        loss, n = weighted_loss(model, ids, weights)
        assert loss.dtype == torch.float32 and loss.device.type == device  # CE in float32
        assert int(n) > 0
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        losses.append(float(loss.detach()))
    assert all(np.isfinite(losses))
    assert losses[-1] < losses[0] - 1.0, losses
    assert_on_device(model, device, dtype)


@pytest.mark.parametrize("device", DEVICES)
def test_pretrain_loop_runs_on_the_device(device, tmp_path):
    """`pretrain(..., device=)`: batches, held-out losses and the saved model follow the model's
    device, the loss falls, and the saved organism reloads on a CPU in float32."""
    from welfare.model.load import load_model
    from welfare.model.pretrain import pretrain

    tokenizer = tiny_tokenizer()
    rows = _rows()
    model, result = pretrain(
        rows, rows[::3], tokenizer, _cfg(steps=12), tmp_path / "naive", device=device
    )
    assert next(model.parameters()).device.type == device
    assert result.steps == 12
    losses = [row["train_loss"] for row in result.curve]
    assert np.mean(losses[-3:]) < np.mean(losses[:3]) - 0.5
    assert set(result.heldout_loss) == {"reading", "affect"}
    assert all(np.isfinite(v) for v in result.heldout_loss.values())
    loaded, _ = load_model(tmp_path / "naive", runtime("cpu", torch.float32))
    assert_on_device(loaded, "cpu", torch.float32)
    # The saved weights are the trained ones, bit for bit.
    live = {k: v.cpu() for k, v in model.state_dict().items()}
    for key, value in loaded.state_dict().items():
        assert torch.equal(value, live[key]), key
