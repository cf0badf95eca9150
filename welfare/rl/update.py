"""The policy-gradient update: one forward/backward over each episode's full token sequence,
with the decision positions gathered (docs/protocol.md §2.2: Dr. GRPO / token-level REINFORCE,
dual-clip PPO, KL to the reference, equalized entropy bonus, seq-mean-token-sum with constant Z)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import torch

from welfare.rl.losses import (
    ClipConfig,
    all_action_surrogate,
    dual_clip_surrogate,
    equalized_entropy,
    kl_k3,
    seq_mean_token_sum,
)
from welfare.rl.policy import decision_logits
from welfare.rl.rollout import Trajectories


@dataclass(frozen=True)
class PolicyGradientConfig:
    temperature: float
    clip: ClipConfig
    loss_z: float
    kl_coef: float
    ppo_epochs: int
    minibatches: int
    micro_batch: int
    grad_clip: float

    @classmethod
    def from_train(cls, cfg: Any, **overrides: Any) -> PolicyGradientConfig:
        """The update settings of a `TrainConfig` (benchmarks override some)."""
        values = dict(
            temperature=cfg.temperature,
            clip=cfg.clip,
            loss_z=cfg.loss_z,
            kl_coef=cfg.kl_coef,
            ppo_epochs=cfg.ppo_epochs,
            minibatches=cfg.minibatches,
            micro_batch=cfg.micro_batch,
            grad_clip=cfg.optimizer.grad_clip,
        )
        return cls(**(values | overrides))


@dataclass
class UpdateStats:
    """Means over the update's micro-batches (first epoch's values for the diagnostics)."""

    loss: float = 0.0
    policy_entropy: float = 0.0  # entropy of the sampling distribution over N/E/S/W
    equalized_entropy: float = 0.0  # H_eq of §1.6, per decision
    kl: float = 0.0
    clip_fraction: float = 0.0
    dual_clip_fraction: float = 0.0
    grad_norm: float = 0.0
    tokens: int = 0
    seconds: float = 0.0

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / max(self.seconds, 1e-9)


def reference_logp(
    model: Any,
    reference: Any | None,
    traj: Trajectories,
    answer_ids: list[int],
    pad_id: int,
    temperature: float,
    micro_batch: int,
) -> torch.Tensor:
    """Log-probs of the taken actions under the reference policy, [B, T] (no gradients).

    `reference` is a frozen model, or None to use `model` with its LoRA adapter disabled.
    """
    context = model.disable_adapter() if reference is None else nullcontext()
    ref_model = model if reference is None else reference
    parts = []
    with torch.no_grad(), context:
        for rows in _chunks(range(len(traj.tokens)), micro_batch):
            logits = decision_logits(
                ref_model,
                [traj.tokens[i] for i in rows],
                traj.decision_index[rows],
                pad_id,
                answer_ids,
                **_prefix_of(traj, torch.tensor(rows)),
            )
            logp = (logits / temperature).log_softmax(-1)
            parts.append(logp.gather(-1, traj.actions[rows, :, None].to(logp.device)).squeeze(-1))
    return torch.cat(parts).cpu()


def policy_update(
    model: Any,
    optimizer: torch.optim.Optimizer,
    traj: Trajectories,
    advantages: torch.Tensor,
    entropy_coef: float,
    config: PolicyGradientConfig,
    answer_ids: list[int],
    pad_id: int,
    ref_logp: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
    action_rewards: torch.Tensor | None = None,
) -> UpdateStats:
    """`ppo_epochs` passes × `minibatches` optimizer steps over the rollout `traj`.

    With `action_rewards` [B, T, 4] (every direction's reward at each turn) the policy term is the
    all-action expectation (`all_action_surrogate`) and `advantages` are not used.
    """
    started = time.perf_counter()
    device = next(model.parameters()).device
    n = len(traj.tokens)
    size = n // config.minibatches
    stats, counted = UpdateStats(), 0
    params = [p for p in model.parameters() if p.requires_grad]
    for epoch in range(config.ppo_epochs):
        shuffle = config.minibatches > 1
        order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
        for start in range(0, n, size):
            minibatch = order[start : start + size]
            optimizer.zero_grad(set_to_none=True)
            # Micro-batches of similar lengths: less padding, the same minibatch mean.
            by_length = sorted(minibatch.tolist(), key=lambda i: len(traj.tokens[i]))
            for rows in _chunks(by_length, config.micro_batch):
                rows_t = torch.tensor(rows)
                logits = decision_logits(
                    model,
                    [traj.tokens[i] for i in rows],
                    traj.decision_index[rows_t],
                    pad_id,
                    answer_ids,
                    **_prefix_of(traj, rows_t),
                )
                mask = traj.mask[rows_t].to(device)
                actions = traj.actions[rows_t].to(device)
                logp_all = (logits / config.temperature).log_softmax(-1)
                logp = logp_all.gather(-1, actions[..., None]).squeeze(-1)
                terms = dual_clip_surrogate(
                    logp,
                    traj.logp[rows_t].to(device),
                    advantages[rows_t].to(device),
                    mask,
                    config.clip,
                )
                per_turn = terms.per_turn_loss
                if action_rewards is not None:
                    scaled = logits / config.temperature
                    per_turn = all_action_surrogate(scaled, action_rewards[rows_t].to(device))
                h_eq = equalized_entropy(logits, traj.tiles[rows_t].to(device))
                loss = seq_mean_token_sum(per_turn, mask, config.loss_z)
                loss = loss - entropy_coef * seq_mean_token_sum(h_eq, mask, config.loss_z)
                kl = torch.zeros_like(logp)
                if ref_logp is not None:
                    kl = kl_k3(logp, ref_logp[rows_t].to(device))
                    loss = loss + config.kl_coef * seq_mean_token_sum(kl, mask, config.loss_z)
                # Micro-batches are slices of one minibatch mean: weight by their share.
                (loss * len(rows) / len(minibatch)).backward()
                if epoch == 0:
                    with torch.no_grad():
                        denom = mask.sum()
                        entropy = -(logp_all.exp() * logp_all).sum(-1)
                        stats.loss += loss.item() * len(rows)
                        stats.policy_entropy += float((entropy * mask).sum() / denom) * len(rows)
                        stats.equalized_entropy += float((h_eq * mask).sum() / denom) * len(rows)
                        stats.kl += float((kl * mask).sum() / denom) * len(rows)
                        stats.clip_fraction += terms.clip_fraction.item() * len(rows)
                        stats.dual_clip_fraction += terms.dual_clip_fraction.item() * len(rows)
                        counted += len(rows)
                stats.tokens += sum(len(traj.tokens[i]) for i in rows)
            grad_norm = torch.nn.utils.clip_grad_norm_(
                params, config.grad_clip if config.grad_clip > 0 else float("inf")
            )
            stats.grad_norm = float(grad_norm)
            optimizer.step()
    for name in (
        "loss",
        "policy_entropy",
        "equalized_entropy",
        "kl",
        "clip_fraction",
        "dual_clip_fraction",
    ):
        setattr(stats, name, getattr(stats, name) / max(counted, 1))
    stats.seconds = time.perf_counter() - started
    return stats


def _chunks(items: Any, size: int) -> Iterator[list[int]]:
    items = list(items)
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _prefix_of(traj: Trajectories, rows: torch.Tensor) -> dict[str, Any]:
    """The rollout's kept frozen-prefix states of `rows`, when it kept them."""
    if traj.prefix is None:
        return {}
    return {"prefix": traj.prefix[rows], "prefix_start": traj.prefix_start}
