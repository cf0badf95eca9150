"""Advantages and losses of maze training, as pure tensor functions (docs/protocol.md §1.6, §2.2,
§2.4).

Every tensor is indexed by episode and turn: shape ``[episodes, turns]`` (one decision per turn),
with ``mask`` marking the turns that exist. Episodes of one group (same maze) are contiguous:
episode ``i`` belongs to group ``i // group_size``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


def _grouped(values: torch.Tensor, group_size: int) -> torch.Tensor:
    if values.shape[0] % group_size:
        raise ValueError(f"{values.shape[0]} episodes do not split into groups of {group_size}")
    return values.reshape(values.shape[0] // group_size, group_size, *values.shape[1:])


def drgrpo_advantages(rewards: torch.Tensor, mask: torch.Tensor, group_size: int) -> torch.Tensor:
    """Dr. GRPO: A_i = R_i − mean of R over the group (no std), broadcast to the episode's turns."""
    returns = (rewards * mask).sum(-1)
    grouped = _grouped(returns, group_size)
    advantage = (grouped - grouped.mean(1, keepdim=True)).reshape(-1)
    return advantage[:, None] * mask


def returns_to_go(rewards: torch.Tensor, discount: float = 1.0) -> torch.Tensor:
    """G_t = Σ_{k≥t} γ^{k−t} r_k along the last dimension."""
    if discount == 1.0:
        return rewards.flip(-1).cumsum(-1).flip(-1)
    out = torch.zeros_like(rewards)
    running = torch.zeros_like(rewards[..., 0])
    for t in range(rewards.shape[-1] - 1, -1, -1):
        running = rewards[..., t] + discount * running
        out[..., t] = running
    return out


def reinforce_advantages(
    rewards: torch.Tensor, mask: torch.Tensor, group_size: int, discount: float = 1.0
) -> torch.Tensor:
    """Token-level REINFORCE (docs/protocol.md §2.4): returns-to-go minus a per-position group
    baseline.

    G_{i,t} = Σ_{k≥t} γ^{k−t} r_{i,k} (the paper: undiscounted, γ = 1); b_t = mask-weighted mean
    of G_{i,t} over the group's members still active at t; A_{i,t} = (G_{i,t} − b_t)·m_{i,t}.
    """
    masked = rewards * mask
    returns_to_go_ = returns_to_go(masked, discount)
    g = _grouped(returns_to_go_ * mask, group_size)
    m = _grouped(mask, group_size)
    baseline = g.sum(1, keepdim=True) / m.sum(1, keepdim=True).clamp_min(1)
    return ((g - baseline) * m).reshape_as(rewards)


def zero_spread_fraction(rewards: torch.Tensor, mask: torch.Tensor, group_size: int) -> float:
    """Fraction of groups whose episode returns are all equal (they carry no Dr. GRPO signal)."""
    grouped = _grouped((rewards * mask).sum(-1), group_size)
    spread = grouped.max(1).values - grouped.min(1).values
    return float((spread.abs() < 1e-9).float().mean())


@dataclass(frozen=True)
class ClipConfig:
    """Dual-clip PPO (Ye et al. 2020) constants, docs/protocol.md §2.2."""

    epsilon: float = 0.2
    dual_c: float = 3.0
    log_ratio_max: float = 20.0


@dataclass
class SurrogateTerms:
    per_turn_loss: torch.Tensor  # [episodes, turns], to be aggregated
    clip_fraction: torch.Tensor  # scalar, share of turns where the ε-clip is active
    dual_clip_fraction: torch.Tensor  # scalar, share of turns where the c-bound is active


def dual_clip_surrogate(
    logp: torch.Tensor,
    old_logp: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    clip: ClipConfig,
) -> SurrogateTerms:
    """Per-turn dual-clip PPO loss −min(r·A, clip(r, 1±ε)·A), bounded by −c·A for A < 0."""
    log_ratio = (logp - old_logp).clamp(-clip.log_ratio_max, clip.log_ratio_max)
    ratio = log_ratio.exp()
    unclipped = -advantages * ratio
    clipped = -advantages * ratio.clamp(1 - clip.epsilon, 1 + clip.epsilon)
    ppo = torch.maximum(unclipped, clipped)
    # Dual clip: with a negative advantage a huge ratio would give an unbounded loss.
    bound = -advantages * clip.dual_c
    dual = torch.minimum(ppo, bound)
    loss = torch.where(advantages < 0, dual, ppo)
    n = mask.sum().clamp_min(1)
    clip_fraction = ((clipped > unclipped).float() * mask).sum() / n
    dual_fraction = ((advantages < 0) & (ppo > bound)).float().mul(mask).sum() / n
    return SurrogateTerms(loss, clip_fraction.detach(), dual_fraction.detach())


def seq_mean_token_sum(per_turn: torch.Tensor, mask: torch.Tensor, z: float) -> torch.Tensor:
    """Dr. GRPO's "seq-mean-token-sum" aggregation: mean over episodes of Σ_t (x·m) / Z."""
    return ((per_turn * mask).sum(-1) / z).mean()


def equalized_entropy(direction_logits: torch.Tensor, tiles: torch.Tensor) -> torch.Tensor:
    """H_eq per turn (docs/protocol.md §1.6): Σ over tile classes c of the entropy of softmax(ℓ)
    within S_c.

    ``direction_logits`` [..., 4] are the logits of N/E/S/W; ``tiles`` [..., 4] the tile class of
    each neighbour (captured before the move). A class with fewer than two neighbours adds 0, so
    the bonus never pushes mass across classes.
    """
    total = torch.zeros(
        direction_logits.shape[:-1], dtype=direction_logits.dtype, device=direction_logits.device
    )
    for tile_class in tiles.unique().tolist():
        members = tiles == tile_class
        counted = members.sum(-1, keepdim=True) >= 2
        # Rows where the class has < 2 members get finite dummy logits: an all −inf softmax
        # would put NaN into the backward pass even though its entropy is discarded.
        within = torch.where(
            counted,
            direction_logits.masked_fill(~members, -math.inf),
            torch.zeros_like(direction_logits),
        )
        logp = within.log_softmax(-1)
        entropy = -(logp.exp() * logp.masked_fill(~members, 0.0)).sum(-1)
        total = total + torch.where(counted.squeeze(-1), entropy, torch.zeros_like(entropy))
    return total


def all_action_surrogate(direction_logits: torch.Tensor, rewards: torch.Tensor) -> torch.Tensor:
    """Per-turn −Σ_a π(a)·(r(a) − V), V = Σ_a π(a)·r(a) held fixed (docs/training.md).

    ``direction_logits`` [..., 4] (already divided by the temperature) and ``rewards`` [..., 4], the
    reward each direction would earn from this turn. The gradient is minus the exact policy
    gradient of the turn's expected reward E_{a∼π} r(a): the sum that REINFORCE γ 0 estimates with
    the one direction it sampled (minus a baseline), without the sampling noise.
    """
    p = direction_logits.softmax(-1)
    value = (p * rewards).sum(-1, keepdim=True).detach()
    return -(p * (rewards - value)).sum(-1)


def kl_k3(logp: torch.Tensor, ref_logp: torch.Tensor) -> torch.Tensor:
    """Per-turn KL(π‖π_ref) estimate k3 = exp(q−p) − (q−p) − 1 at the sampled action (≥ 0)."""
    delta = ref_logp - logp
    return delta.exp() - delta - 1
