"""Maze RL on CUDA and in low precision: cached rollouts agree with re-encoding, one update step
runs in bf16 (full and LoRA, REINFORCE and Dr. GRPO) and moves the policy towards rewarded
actions, checkpoints of a bf16 (CUDA) model reload on the CPU in float32, and `train` runs end
to end on the device."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml

from tests.gpu.gpu_helpers import DEVICES, assert_on_device, runtime
from welfare.config import validate_params
from welfare.maze.config import MazeConfig
from welfare.maze.tiles import TileMapping
from welfare.model.load import load_model
from welfare.rl.episodes import EpisodeBatch
from welfare.rl.losses import ClipConfig, drgrpo_advantages, reinforce_advantages
from welfare.rl.policy import decision_logits, direction_ids
from welfare.rl.rollout import rollout
from welfare.rl.update import PolicyGradientConfig, policy_update

REPO = Path(__file__).resolve().parents[2]
MAPPING = TileMapping(mold="📇", gold="📐", path="🧾")
SMALL_MAZE = MazeConfig(size=20, turns=6, wind_probability=0.4)  # wind: rows of unequal length
LORA = {"rank": 4, "alpha": 8, "dropout": 0.0, "target_modules": "all-linear"}
# |cached − re-encoded| log-prob tolerance; a misplaced position or mask is ≥ 0.1 off (checked).
LOGP_ATOL = {torch.float32: 1e-4, torch.bfloat16: 3e-2, torch.float16: 1e-2}
ALL_DTYPES = [
    pytest.param(torch.float32, id="fp32"),
    pytest.param(torch.bfloat16, id="bf16"),
    pytest.param(torch.float16, id="fp16"),
]


def _episodes(seeds=(1, 2), group_size=3, stream_seed=7) -> EpisodeBatch:
    return EpisodeBatch.fresh(list(seeds), group_size, SMALL_MAZE, MAPPING, stream_seed=stream_seed)


def _play(model, tokenizer, **kwargs):
    return rollout(
        model,
        tokenizer,
        _episodes(),
        temperature=1.0,
        generator=torch.Generator().manual_seed(0),
        **kwargs,
    )


def _logp(model, tokenizer, traj, decision_index=None) -> torch.Tensor:
    index = traj.decision_index if decision_index is None else decision_index
    with torch.no_grad():
        logits = decision_logits(
            model, traj.tokens, index, tokenizer.pad_token_id, direction_ids(tokenizer)
        )
    assert logits.dtype == torch.float32  # the head's logits are upcast before log_softmax
    logp = logits.log_softmax(-1)
    return logp.gather(-1, traj.actions[..., None].to(logp.device)).squeeze(-1).cpu()


@pytest.mark.parametrize("dtype", ALL_DTYPES)
@pytest.mark.parametrize("device", DEVICES)
def test_cached_rollout_logprobs_equal_reencoding_the_history(sharp_dir, device, dtype):
    model, tokenizer = load_model(sharp_dir, runtime(device, dtype))
    traj = _play(model, tokenizer)
    assert len({len(t) for t in traj.tokens}) > 1  # rows of different lengths
    assert traj.logp.dtype == torch.float32 and traj.logp.device.type == "cpu"
    assert torch.isfinite(traj.logp).all() and (traj.logp < 0).all()
    full = _logp(model, tokenizer, traj)
    err = (full - traj.logp).abs().max().item()
    assert err <= LOGP_ATOL[dtype], f"cached vs re-encoded log-probs differ by {err:.3g}"
    # The tolerance is meaningful: reading one position too early is far outside it.
    shifted = _logp(model, tokenizer, traj, traj.decision_index - 1)
    assert (shifted - traj.logp).abs().max() > 3 * LOGP_ATOL[torch.bfloat16]
    if dtype == torch.float32:  # the re-encoding rollout replays the same episodes exactly
        reencoded = _play(model, tokenizer, use_cache=False)
        assert reencoded.tokens == traj.tokens
        torch.testing.assert_close(reencoded.logp, traj.logp, atol=1e-4, rtol=0)


def _pg_config() -> PolicyGradientConfig:
    return PolicyGradientConfig(
        temperature=1.0,
        clip=ClipConfig(),
        loss_z=1.0,
        kl_coef=0.0,
        ppo_epochs=1,
        minibatches=1,
        micro_batch=4,
        grad_clip=1.0,
    )


@pytest.mark.parametrize("adapter", ["full", "lora"])
@pytest.mark.parametrize("algorithm", ["reinforce", "drgrpo"])
@pytest.mark.parametrize("device", DEVICES)
def test_bf16_step_raises_the_logprob_of_rewarded_actions(sharp_dir, device, algorithm, adapter):
    model, tokenizer = load_model(
        sharp_dir, runtime(device, torch.bfloat16), lora=LORA if adapter == "lora" else None
    )
    traj = _play(model, tokenizer)
    north = traj.actions == 0
    assert north.any() and (~north).any()
    rewards = north.float()  # every move North is rewarded
    if algorithm == "drgrpo":
        advantages = drgrpo_advantages(rewards, traj.mask, group_size=3)
    else:
        advantages = reinforce_advantages(rewards, traj.mask, group_size=3, discount=0.0)
    assert advantages.abs().sum() > 0
    before = _logp(model, tokenizer, traj)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=1e-2 if adapter == "lora" else 2e-3)
    snapshot = [p.detach().clone() for p in trainable]
    stats = policy_update(
        model,
        optimizer,
        traj,
        advantages,
        0.0,
        _pg_config(),
        direction_ids(tokenizer),
        tokenizer.pad_token_id,
    )
    assert stats.clip_fraction == 0.0  # on-policy first pass: ratio 1 (bf16 rollout = update)
    assert all(torch.isfinite(torch.tensor(v)) for v in (stats.loss, stats.grad_norm))
    assert any(not torch.equal(p, s) for p, s in zip(trainable, snapshot, strict=True))
    assert_on_device(model, device, torch.bfloat16)  # the step neither moved nor upcast weights
    change = _logp(model, tokenizer, traj) - before
    assert (change * advantages).sum() > 0, "the surrogate objective must improve"
    if algorithm == "reinforce":
        assert change[north].mean() > change[~north].mean()


def _tiny_params(device: str, steps: int, **row) -> dict:
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["runtime"] = {
        "device": device,
        "dtype": "bfloat16",
        "threads": 0,
        "trust_remote_code": False,
    }
    params["maze"].update(size=20, turns=4)
    params["train"].update(steps=steps, mazes_per_step=2, group_size=2, micro_batch=3, lr=3e-3)
    params["train"]["lora"].update(rank=4, alpha=8)
    params["train"]["checkpoint"]["every"] = 2
    params["train"]["eval"].update(every=2, n_mazes=2, sampled_group=0)
    params["organisms"] = {"tiny": {"base": "naive", "mapping": "office", "seed": 3, **row}}
    return validate_params(params)  # the schema fills what params.yaml leaves to its defaults


@pytest.mark.parametrize(
    "algorithm,adapter,fmt",
    [("reinforce", "full", "merged"), ("drgrpo", "lora", "merged"), ("drgrpo", "lora", "adapter")],
)
@pytest.mark.parametrize("device", DEVICES)
def test_train_in_bf16_and_reload_the_checkpoint_on_cpu_in_float32(
    qwen_dir, tmp_path, device, algorithm, adapter, fmt
):
    """`welfare.rl.trainer.train` with runtime bf16 on the device: it trains, checkpoints, and
    every checkpoint reloads on a CPU in float32 with the trained weights (bf16 → float32 is
    exact, so the reloaded weights equal the live model's bit for bit)."""
    from welfare.rl.checkpoint import latest_checkpoint, restore_checkpoint
    from welfare.rl.trainer import RunPaths, train

    params = _tiny_params(device, steps=2, algorithm=algorithm, adapter=adapter)
    params["train"]["checkpoint"]["format"] = fmt
    paths = RunPaths(out=tmp_path / "models", metrics=tmp_path / "metrics", base=qwen_dir, env=None)
    summary = train(params, "tiny", paths)
    assert summary["steps"] == 2 and "greedy_mean_return" in summary["final"]
    step2 = latest_checkpoint(paths.out)
    assert step2.name == "step-0002"
    cpu = runtime("cpu", torch.float32)
    for directory in (step2, paths.out / "final"):
        reloaded, _ = load_model(directory, cpu)
        assert hasattr(reloaded, "peft_config") == (fmt == "adapter")
        assert_on_device(reloaded, "cpu", torch.float32)
    # Resume into a live bf16 model on the device: weights and optimizer state land there.
    lora = params["train"]["lora"] if adapter == "lora" else None
    model, tokenizer = load_model(qwen_dir, runtime(device, torch.bfloat16), lora=lora)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=1e-3)
    step, _ = restore_checkpoint(step2, model, optimizer, None)
    assert step == 2
    for state in optimizer.state.values():
        assert state["exp_avg"].device.type == device
    reloaded, _ = load_model(step2, cpu)
    live = {k: v for k, v in model.state_dict().items() if "lora_" not in k}
    if fmt == "merged" and adapter == "lora":
        live = model.merge_and_unload().state_dict()
    elif fmt == "adapter":
        live = {k: v for k, v in model.state_dict().items() if "lora_" in k}
    saved = reloaded.state_dict()
    assert live
    for key, value in live.items():
        assert key in saved, key
        if fmt == "merged" and adapter == "lora":  # merge computed in bf16 on two devices
            torch.testing.assert_close(saved[key], value.float().cpu(), atol=2e-2, rtol=2e-2)
        else:
            assert torch.equal(saved[key], value.float().cpu()), key
