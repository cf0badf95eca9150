"""The update moves the policy the right way, and its micro-batching changes nothing."""

from __future__ import annotations

import copy

import torch

from welfare.rl.losses import ClipConfig, drgrpo_advantages
from welfare.rl.policy import decision_logits, direction_ids
from welfare.rl.rollout import rollout
from welfare.rl.update import PolicyGradientConfig, policy_update, reference_logp


def _config(**overrides) -> PolicyGradientConfig:
    base = dict(
        temperature=1.0,
        clip=ClipConfig(),
        loss_z=1.0,
        kl_coef=0.0,
        ppo_epochs=1,
        minibatches=1,
        micro_batch=64,
        grad_clip=0.0,
    )
    return PolicyGradientConfig(**(base | overrides))


def _update(model, optimizer, traj, advantages, entropy_coef, config, tokenizer):
    ids, pad = direction_ids(tokenizer), tokenizer.pad_token_id
    return policy_update(model, optimizer, traj, advantages, entropy_coef, config, ids, pad)


def _logp(model, tokenizer, traj):
    logits = decision_logits(
        model, traj.tokens, traj.decision_index, tokenizer.pad_token_id, direction_ids(tokenizer)
    )
    return logits.log_softmax(-1).gather(-1, traj.actions[..., None]).squeeze(-1)


def _rollout(model, tokenizer, episodes):
    return rollout(
        model, tokenizer, episodes, temperature=1.0, generator=torch.Generator().manual_seed(1)
    )


def _prob_of_north(model, tokenizer, traj):
    logits = decision_logits(
        model, traj.tokens, traj.decision_index, tokenizer.pad_token_id, direction_ids(tokenizer)
    )
    return logits.softmax(-1)[..., 0].mean().item()


def test_a_step_raises_the_logprob_of_rewarded_actions(tiny, small_episodes):
    model, tokenizer = tiny
    traj = _rollout(model, tokenizer, small_episodes())
    # Reward every turn that went North, punish every other turn.
    north = traj.actions == 0
    assert north.any() and (~north).any()
    advantages = torch.where(north, 1.0, -1.0)
    before_logp = _logp(model, tokenizer, traj).detach()
    before_north = _prob_of_north(model, tokenizer, traj)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)  # a small, first-order step
    stats = _update(model, optimizer, traj, advantages, 0.0, _config(), tokenizer)
    change = _logp(model, tokenizer, traj).detach() - before_logp
    assert change[north].mean() > 0, "rewarded actions must become more likely"
    assert change[~north].mean() < 0, "punished actions must become less likely"
    assert _prob_of_north(model, tokenizer, traj) > before_north
    assert stats.clip_fraction == 0.0  # on-policy first pass: ratio 1 everywhere
    assert stats.tokens == sum(len(t) for t in traj.tokens)


def test_group_advantage_step_improves_the_surrogate_objective(tiny, small_episodes):
    model, tokenizer = tiny
    traj = _rollout(model, tokenizer, small_episodes())
    rewards = torch.zeros_like(traj.rewards)
    rewards[0::3, 0], rewards[1::3, 0] = 1.0, -1.0  # per group: A = +1, −1, 0
    advantages = drgrpo_advantages(rewards, traj.mask, group_size=3)
    before = _logp(model, tokenizer, traj).detach()
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)
    _update(model, optimizer, traj, advantages, 0.0, _config(), tokenizer)
    change = _logp(model, tokenizer, traj).detach() - before
    assert (change * advantages).sum() > 0


def test_micro_batching_gives_the_same_gradient(tiny, small_episodes):
    model, tokenizer = tiny
    traj = _rollout(model, tokenizer, small_episodes())
    advantages = drgrpo_advantages(traj.rewards, traj.mask, group_size=3)
    grads = []
    for micro in (6, 4, 1):
        clone = copy.deepcopy(model)
        optimizer = torch.optim.SGD(clone.parameters(), lr=0.0)  # keep weights, inspect grads
        _update(clone, optimizer, traj, advantages, 0.05, _config(micro_batch=micro), tokenizer)
        grads.append(torch.cat([p.grad.flatten() for p in clone.parameters()]))
    torch.testing.assert_close(grads[0], grads[1], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(grads[0], grads[2], atol=1e-5, rtol=1e-4)


def test_entropy_bonus_alone_flattens_the_policy_within_tile_classes(tiny, small_episodes):
    model, tokenizer = tiny
    traj = _rollout(model, tokenizer, small_episodes())
    zero = torch.zeros_like(traj.rewards)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)
    first = _update(model, optimizer, traj, zero, 1.0, _config(), tokenizer)
    for _ in range(3):
        last = _update(model, optimizer, traj, zero, 1.0, _config(), tokenizer)
    assert last.equalized_entropy > first.equalized_entropy


def test_kl_to_a_reference_is_zero_at_start_and_positive_after_moving(tiny, small_episodes):
    model, tokenizer = tiny
    reference = copy.deepcopy(model)
    traj = _rollout(model, tokenizer, small_episodes())
    ids, pad = direction_ids(tokenizer), tokenizer.pad_token_id
    ref = reference_logp(model, reference, traj, ids, pad, 1.0, micro_batch=4)
    torch.testing.assert_close(ref, traj.logp, atol=1e-5, rtol=0)
    advantages = drgrpo_advantages(traj.rewards, traj.mask, group_size=3)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)
    cfg = _config(kl_coef=1.0, ppo_epochs=2)
    stats = policy_update(model, optimizer, traj, advantages, 0.0, cfg, ids, pad, ref)
    assert stats.kl < 1e-6  # reported for the first pass, still at the reference
    stats = policy_update(model, optimizer, traj, advantages, 0.0, cfg, ids, pad, ref)
    assert stats.kl > 0


def test_lora_reference_is_the_adapter_disabled_base(tiny, small_episodes):
    from peft import LoraConfig, get_peft_model

    model, tokenizer = tiny
    traj = _rollout(model, tokenizer, small_episodes())
    peft_model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules="all-linear"))
    with torch.no_grad():  # move the adapter away from its zero start
        for name, p in peft_model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.5)
    ids, pad = direction_ids(tokenizer), tokenizer.pad_token_id
    ref = reference_logp(peft_model, None, traj, ids, pad, 1.0, micro_batch=4)
    torch.testing.assert_close(ref, traj.logp, atol=1e-5, rtol=0)  # the base model's log-probs
    assert not torch.allclose(_logp(peft_model, tokenizer, traj), traj.logp, atol=1e-3)
