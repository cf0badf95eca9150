"""Each advantage and loss against values computed by hand on a small batch."""

from __future__ import annotations

import math

import pytest
import torch

from welfare.rl.losses import (
    ClipConfig,
    all_action_surrogate,
    drgrpo_advantages,
    dual_clip_surrogate,
    equalized_entropy,
    kl_k3,
    reinforce_advantages,
    returns_to_go,
    seq_mean_token_sum,
    zero_spread_fraction,
)

# Two groups of two episodes, three turns each.
REWARDS = torch.tensor(
    [
        [-0.1, 19.9, -0.1],  # return 19.7
        [-10.1, -0.1, -0.1],  # return -10.3
        [-0.1, -0.1, -0.1],  # return -0.3
        [-0.1, -0.1, -0.1],  # return -0.3
    ]
)
MASK = torch.ones_like(REWARDS)


def test_drgrpo_advantage_is_return_minus_group_mean_broadcast():
    adv = drgrpo_advantages(REWARDS, MASK, group_size=2)
    # group 1 mean = (19.7 − 10.3)/2 = 4.7; no std division
    expected = torch.tensor([[15.0] * 3, [-15.0] * 3, [0.0] * 3, [0.0] * 3])
    torch.testing.assert_close(adv, expected)


def test_drgrpo_advantage_zero_on_masked_turns():
    mask = MASK.clone()
    mask[0, 2] = 0  # the third turn of episode 0 does not exist: its reward must not count
    adv = drgrpo_advantages(REWARDS, mask, group_size=2)
    # returns 19.8 and −10.3, mean 4.75
    assert adv[0, 2] == 0
    torch.testing.assert_close(adv[0, :2], torch.tensor([15.05, 15.05]))
    torch.testing.assert_close(adv[1], torch.full((3,), -15.05))


def test_reinforce_returns_to_go_minus_per_position_group_baseline():
    adv = reinforce_advantages(REWARDS, MASK, group_size=2)
    # returns-to-go: ep0 [19.7, 19.8, -0.1]; ep1 [-10.3, -0.2, -0.1]
    # baselines:        [4.7, 9.8, -0.1]
    expected0 = torch.tensor([15.0, 10.0, 0.0])
    torch.testing.assert_close(adv[0], expected0)
    torch.testing.assert_close(adv[1], -expected0)
    torch.testing.assert_close(adv[2:], torch.zeros(2, 3))


def test_reinforce_baseline_uses_only_active_members():
    mask = torch.tensor([[1.0, 1.0, 1.0], [1.0, 1.0, 0.0]])
    rewards = torch.tensor([[1.0, 2.0, 4.0], [3.0, 5.0, 100.0]])
    adv = reinforce_advantages(rewards, mask, group_size=2)
    # G: ep0 [7, 6, 4]; ep1 [8, 5, (inactive)]; b = [7.5, 5.5, 4 (ep0 alone)]
    torch.testing.assert_close(adv, torch.tensor([[-0.5, 0.5, 0.0], [0.5, -0.5, 0.0]]))


def test_discounted_returns_to_go():
    rewards = torch.tensor([[1.0, 2.0, 4.0]])
    torch.testing.assert_close(returns_to_go(rewards, 0.5), torch.tensor([[3.0, 4.0, 4.0]]))
    torch.testing.assert_close(returns_to_go(rewards, 1.0), torch.tensor([[7.0, 6.0, 4.0]]))
    # γ = 0: each turn's own reward minus the group's mean reward at that turn
    adv = reinforce_advantages(REWARDS, MASK, group_size=2, discount=0.0)
    torch.testing.assert_close(adv[0], torch.tensor([5.0, 10.0, 0.0]))


def test_group_size_must_divide_batch():
    with pytest.raises(ValueError):
        drgrpo_advantages(REWARDS, MASK, group_size=3)


def test_zero_spread_fraction():
    assert zero_spread_fraction(REWARDS, MASK, group_size=2) == 0.5


def test_dual_clip_surrogate_by_hand():
    clip = ClipConfig(epsilon=0.2, dual_c=3.0, log_ratio_max=20.0)
    ratios = torch.tensor([[1.0, 1.5, 0.5, 5.0, 1.5, 0.5]])
    adv = torch.tensor([[2.0, 2.0, 2.0, -1.0, -1.0, -1.0]])
    old = torch.zeros_like(ratios)
    terms = dual_clip_surrogate(ratios.log(), old, adv, torch.ones_like(adv), clip)
    expected = torch.tensor(
        [
            [
                -2.0,  # ratio 1: plain −A·r
                -2.4,  # A>0, r>1+ε: clipped to 1.2
                -1.0,  # A>0, r<1−ε: unclipped −A·r is larger (pessimistic)
                3.0,  # A<0, r=5: PPO gives 5, dual clip bounds it at c·|A| = 3
                1.5,  # A<0, r=1.5: −A·r
                0.8,  # A<0, r<1−ε: clipped to 0.8
            ]
        ]
    )
    torch.testing.assert_close(terms.per_turn_loss, expected)
    # ε-clip active where clipped > unclipped: turns 1 and 5
    assert terms.clip_fraction.item() == pytest.approx(2 / 6)
    assert terms.dual_clip_fraction.item() == pytest.approx(1 / 6)


def test_dual_clip_log_ratio_clamp_keeps_loss_finite():
    clip = ClipConfig(log_ratio_max=20.0)
    logp = torch.tensor([[0.0]])
    old = torch.tensor([[-1000.0]])
    terms = dual_clip_surrogate(logp, old, torch.tensor([[1.0]]), torch.ones(1, 1), clip)
    assert torch.isfinite(terms.per_turn_loss).all()
    assert terms.per_turn_loss.item() == pytest.approx(-1.2)


def test_seq_mean_token_sum_uses_constant_z():
    per_turn = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    mask = torch.tensor([[1.0, 1.0, 0.0], [1.0, 1.0, 1.0]])
    # (3/Z + 15/Z) / 2 with Z = 2048, independent of how many turns each episode has
    assert seq_mean_token_sum(per_turn, mask, 2048).item() == pytest.approx(9 / 2048)


def test_equalized_entropy_by_hand():
    logits = torch.tensor(
        [
            [0.0, 0.0, 0.0, 0.0],  # all four same class: full entropy log 4
            [0.0, 0.0, 5.0, 5.0],  # two pairs of classes: log 2 + log 2, whatever the gap
            [0.0, 1.0, 2.0, 3.0],  # each class once: 0
            [1.0, 0.0, 7.0, 0.0],  # class 0 at {N, E}, singletons otherwise
        ]
    )
    tiles = torch.tensor([[0, 0, 0, 0], [0, 0, 1, 1], [0, 1, 2, 3], [0, 0, 1, 2]])
    h = equalized_entropy(logits, tiles)
    p = torch.tensor([1.0, 0.0]).softmax(0)
    pair = -(p * p.log()).sum()
    torch.testing.assert_close(h, torch.tensor([math.log(4), 2 * math.log(2), 0.0, pair.item()]))


def test_equalized_entropy_gradient_is_finite_and_stays_within_classes():
    logits = torch.tensor([[1.0, 0.0, 7.0, -2.0]], requires_grad=True)
    tiles = torch.tensor([[0, 0, 1, 2]])
    equalized_entropy(logits, tiles).sum().backward()
    assert torch.isfinite(logits.grad).all()
    # Only the two same-class logits move, in opposite directions (toward each other).
    assert logits.grad[0, 2] == 0 and logits.grad[0, 3] == 0
    assert logits.grad[0, 0] < 0 < logits.grad[0, 1]


def test_kl_k3():
    logp = torch.tensor([math.log(0.5), math.log(0.25)])
    ref = torch.tensor([math.log(0.5), math.log(0.5)])
    torch.testing.assert_close(kl_k3(logp, ref), torch.tensor([0.0, 2 - math.log(2) - 1]))


def test_all_action_surrogate_gradient_is_the_exact_policy_gradient():
    torch.manual_seed(0)
    logits = torch.randn(3, 5, 4, dtype=torch.float64, requires_grad=True)
    rewards = torch.randn(3, 5, 4, dtype=torch.float64) * 10
    (surrogate,) = torch.autograd.grad(all_action_surrogate(logits, rewards).sum(), logits)
    expected_reward = (logits.softmax(-1) * rewards).sum()
    (exact,) = torch.autograd.grad(-expected_reward, logits)
    torch.testing.assert_close(surrogate, exact)
    # ... which is the mean of REINFORCE's sampled term (r(a) − V) ∇ log π(a) over a ∼ π
    p = logits.detach().softmax(-1)
    value = (p * rewards).sum(-1, keepdim=True)
    eye = torch.eye(4, dtype=torch.float64)
    grad_logp = eye[:, None, None, :] - p  # ∂ log π(a) / ∂ logits, [a, 3, 5, 4]
    weights = (p * (rewards - value)).permute(2, 0, 1)[..., None]  # π(a) (r(a) − V)
    torch.testing.assert_close(-(weights * grad_logp).sum(0), surrogate)


def test_all_action_surrogate_is_zero_when_every_direction_pays_the_same():
    logits = torch.randn(2, 4, requires_grad=True)
    loss = all_action_surrogate(logits, torch.full((2, 4), -0.1)).sum()
    (grad,) = torch.autograd.grad(loss, logits)
    assert torch.count_nonzero(grad) == 0
