"""LoRA on the top blocks: the update on the rollout's kept prefix states is the full forward."""

from __future__ import annotations

import pytest
import torch

from welfare.model.load import load_model
from welfare.model.testing import tiny_model_dir
from welfare.rl.policy import decision_logits, direction_ids
from welfare.rl.prefix import replay_prefix, trainable_start
from welfare.rl.rollout import rollout

LORA = {"rank": 4, "alpha": 8, "dropout": 0.0, "top_layers": 2}


def _lora_model(tmp_path, arch, runtime, **lora):
    directory = tiny_model_dir(tmp_path, arch, layers=4)
    return load_model(directory, runtime, lora=LORA | lora)


@pytest.mark.parametrize("arch", ["qwen3", "llama"])
def test_update_on_kept_prefix_equals_the_full_forward(tmp_path, arch, runtime, small_episodes):
    model, tokenizer = _lora_model(tmp_path, arch, runtime)
    start = trainable_start(model)
    assert start == 2  # 4 blocks, LoRA on the top 2
    # Random adapter weights, so the adapted blocks matter (peft starts B at zero).
    for name, p in model.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(p, std=0.2)
    traj = rollout(
        model,
        tokenizer,
        small_episodes(),
        temperature=1.0,
        generator=torch.Generator().manual_seed(0),
        keep_prefix=start,
    )
    assert traj.prefix is not None and traj.prefix_start == start
    assert len({len(t) for t in traj.tokens}) > 1  # rows of different lengths (wind)
    ids, pad = direction_ids(tokenizer), tokenizer.pad_token_id
    results = []
    for kept in (traj.prefix, None):
        model.zero_grad(set_to_none=True)
        logits = decision_logits(
            model, traj.tokens, traj.decision_index, pad, ids, prefix=kept, prefix_start=start
        )
        logits.log_softmax(-1)[..., 1].sum().backward()
        grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}
        results.append((logits.detach(), grads))
    (fast, fast_grads), (plain, plain_grads) = results
    torch.testing.assert_close(fast, plain, atol=1e-5, rtol=1e-5)
    assert fast_grads.keys() == plain_grads.keys() and fast_grads
    for name, grad in plain_grads.items():
        torch.testing.assert_close(fast_grads[name], grad, atol=1e-5, rtol=1e-4, msg=name)
    # The behaviour log-probs of the rollout are the update's too.
    logp = (fast.log_softmax(-1)).gather(-1, traj.actions[..., None]).squeeze(-1)
    torch.testing.assert_close(logp, traj.logp, atol=1e-5, rtol=0)


def test_a_replayed_prefix_is_used_and_the_blocks_come_back(tmp_path, runtime):
    model, _ = _lora_model(tmp_path, "qwen3", runtime)
    layers = model.get_decoder().layers
    before = list(layers)
    ids = torch.randint(3, model.config.vocab_size, (2, 7))
    hidden = torch.randn(2, 7, model.config.hidden_size)
    with replay_prefix(model, hidden, 2):
        out_a = model(ids).logits
    with replay_prefix(model, hidden * 2, 2):
        out_b = model(ids).logits
    assert not torch.allclose(out_a, out_b)  # the kept states, not the ids, feed the top blocks
    assert list(layers) == before
    with pytest.raises(RuntimeError), replay_prefix(model, hidden, 2):
        raise RuntimeError("interrupted")
    assert list(layers) == before


@pytest.mark.parametrize(("lora", "expected"), [({"top_layers": 0}, 0), ({"top_layers": 1}, 3)])
def test_trainable_start(tmp_path, runtime, lora, expected):
    model, _ = _lora_model(tmp_path, "llama", runtime, **lora)
    assert trainable_start(model) == expected


def test_full_fine_tuning_keeps_no_prefix(tiny):
    model, _ = tiny
    assert trainable_start(model) == 0
