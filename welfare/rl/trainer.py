"""`welfare train` end to end: one organism, Dr. GRPO / token-level REINFORCE / SFT, LoRA or full.

Read it top to bottom: load the base model (LoRA-wrapped if asked), build optimizer and cosine
schedule, resume from the newest complete checkpoint, then per step: fresh seeded mazes, a
batched KV-cached rollout, advantages, one policy-gradient update, a metrics row, and now and
then an evaluation on the held-out mazes and a checkpoint. Every random choice of step s derives
from (organism seed, s), which is what makes a resumed run identical to an uninterrupted one.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from welfare.io import atomic_path, remove_leftovers, write_json
from welfare.lm import cosine_multiplier
from welfare.maze import MazeConfig, TileMapping
from welfare.model import load_model
from welfare.rl.checkpoint import (
    CURVES_DIR,
    checkpoint_fingerprint,
    latest_checkpoint,
    model_identity,
    restore_checkpoint,
    save_checkpoint,
    save_model_dir,
    set_aside_checkpoints,
    step_dir,
)
from welfare.rl.config import ScheduleConfig, TrainConfig
from welfare.rl.episodes import EpisodeBatch
from welfare.rl.evaluate import eval_maze_seeds, evaluate_model, evaluate_references
from welfare.rl.losses import (
    drgrpo_advantages,
    reinforce_advantages,
    zero_spread_fraction,
)
from welfare.rl.metrics import MetricsLog
from welfare.rl.policy import direction_ids
from welfare.rl.prefix import trainable_start
from welfare.rl.rollout import rollout
from welfare.rl.sft import load_demonstrations, sft_loss
from welfare.rl.update import PolicyGradientConfig, policy_update, reference_logp

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunPaths:
    out: Path  # models/{organism}: step-NNNN/ and final/
    metrics: Path  # metrics/{organism}: train.tsv, eval.tsv, eval.json
    base: Path | str  # the model training starts from
    env: Path | None  # data/env/{mapping}: sft.parquet, eval_mazes.parquet


def lr_multiplier(step: int, schedule: ScheduleConfig) -> float:
    """Linear warm-up (if any) times the cosine multiplier of §1.6."""
    warmup = min(1.0, (step + 1) / schedule.warmup_steps) if schedule.warmup_steps else 1.0
    return warmup * cosine_multiplier(step, schedule.total_steps, schedule.fraction)


def step_seeds(seed: int, step: int, n_mazes: int) -> tuple[list[int], int, int]:
    """(maze seeds, episode stream seed, sampling seed) of one training step.

    Maze seeds are drawn from [1e9, 2^31), far from the env stage's eval / SFT / extraction seed
    ranges, so training never sees a held-out maze.
    """
    rng = np.random.default_rng([seed, step])
    mazes = [int(s) for s in rng.integers(10**9, 2**31 - 1, size=n_mazes)]
    return mazes, int(rng.integers(2**31)), int(rng.integers(2**31))


def train(params: dict[str, Any], organism: str, paths: RunPaths) -> dict[str, Any]:
    """Train `organism` to completion (resuming if checkpoints exist); return the final eval."""
    cfg = TrainConfig.for_organism(params, organism)
    runtime = params["runtime"]
    maze_config = MazeConfig.from_params(params["maze"])
    mapping = TileMapping.from_params(params, cfg.mapping)

    # --- model, reference, optimizer, schedule ---------------------------------------------
    lora = cfg.lora if cfg.adapter == "lora" else None
    model, tokenizer = load_model(paths.base, runtime, lora, seed=cfg.seed)
    model.eval()  # no dropout: rollout and update see the same policy (ratio 1 on epoch 0)
    reference = None
    if cfg.kl_coef > 0 and cfg.adapter == "full":  # under LoRA the reference is adapter-off
        reference = copy.deepcopy(model).requires_grad_(False)
    trainable, optimizer, scheduler = _optimizer(cfg, model)
    answer_ids = direction_ids(tokenizer)
    pad_id = tokenizer.pad_token_id

    # --- resume --------------------------------------------------------------------------
    fingerprint = cfg.fingerprint(params, model_identity(paths.base))
    start, train_log, eval_log = _resume(paths, organism, fingerprint, model, optimizer, scheduler)

    # --- evaluation set and reference policies -----------------------------------------------
    seeds = eval_maze_seeds(params, paths.env, cfg.eval_mazes)
    references = evaluate_references(seeds, maze_config, mapping)

    def evaluate(done: int) -> dict[str, float]:
        result = evaluate_model(
            model,
            tokenizer,
            seeds,
            maze_config,
            mapping,
            temperature=cfg.temperature,
            sampled_group=cfg.eval_sampled_group,
            batch_size=cfg.rollout_batch,
        )
        eval_log.append({"step": done, **result})
        log.info(
            "eval %s step %d: greedy return %.2f", organism, done, result["greedy_mean_return"]
        )
        return result

    if start == 0 and cfg.eval_every:
        evaluate(0)

    # --- the loop ----------------------------------------------------------------------------
    if cfg.algorithm == "sft":
        total = _sft_steps(cfg, paths)
        step_fn = _sft_stepper(cfg, paths, params, model, tokenizer, optimizer, trainable, pad_id)
    else:
        total = cfg.steps
        step_fn = _rl_stepper(
            cfg, maze_config, mapping, model, tokenizer, optimizer, reference, answer_ids, pad_id
        )
    progress = tqdm(range(start, total), desc=f"train {organism}", initial=start, total=total)
    running, final = None, None
    for step in progress:
        started = time.perf_counter()
        row = step_fn(step)
        row["lr"] = scheduler.get_last_lr()[0]
        scheduler.step()
        row["step_seconds"] = time.perf_counter() - started
        done = step + 1
        train_log.append({"step": done, **row})
        score = row.get("return_mean", -row.get("loss", 0.0))
        running = score if running is None else 0.9 * running + 0.1 * score
        progress.set_postfix({"return" if "return_mean" in row else "-loss": f"{running:.2f}"})
        # The last step's evaluation too comes before its checkpoint, which keeps the curves: a
        # run extended later (its curves deleted by Snakemake's rerun) gets that row back.
        if done == total or (cfg.eval_every and done % cfg.eval_every == 0):
            final = evaluate(done)
        if done % cfg.checkpoint_every == 0 or done == total:
            save_checkpoint(
                step_dir(paths.out, done),
                model,
                tokenizer,
                cfg.checkpoint_format,
                done,
                optimizer,
                scheduler,
                fingerprint=fingerprint,
                curves=(train_log, eval_log),
            )

    # --- final model ---------------------------------------------------------------------------
    if final is None:  # resumed from the last step's checkpoint: nothing ran
        final = evaluate(total)
    with atomic_path(paths.out / "final") as tmp:
        save_model_dir(tmp, model, tokenizer, cfg.checkpoint_format)
    summary = {
        "organism": organism,
        "algorithm": cfg.algorithm,
        "adapter": cfg.adapter,
        "steps": total,
        "eval_mazes": len(seeds),
        "final": final,
        "references": references,
    }
    write_json(paths.metrics / "eval.json", summary)
    return summary


def _optimizer(cfg: TrainConfig, model: torch.nn.Module) -> tuple[list, Any, Any]:
    """AdamW over the trainable parameters and the learning-rate schedule of `cfg`."""
    trainable = [p for p in model.parameters() if p.requires_grad]
    opt = cfg.optimizer
    optimizer = torch.optim.AdamW(
        trainable, lr=opt.lr, betas=(opt.beta1, opt.beta2), weight_decay=opt.weight_decay
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: lr_multiplier(s, cfg.schedule)
    )
    return trainable, optimizer, scheduler


def _resume(
    paths: RunPaths, organism: str, fingerprint: str, model: Any, optimizer: Any, scheduler: Any
) -> tuple[int, MetricsLog, MetricsLog]:
    """Restore the latest checkpoint of these params and base (others are set aside) and the
    curves up to it; return the step to start from and the train and eval curves."""
    start = 0
    for leftover in remove_leftovers(paths.out):  # the caller holds the lock on paths.out
        log.info("removed %s (left by a killed run)", leftover)
    last = latest_checkpoint(paths.out)
    if last is not None and checkpoint_fingerprint(last) != fingerprint:
        stale = set_aside_checkpoints(paths.out)
        log.warning("%s: checkpoints of other params or base model moved to %s", organism, stale)
        last = None
    if last is not None:
        start, _ = restore_checkpoint(last, model, optimizer, scheduler)
        log.info("resuming %s from %s (step %d)", organism, last, start)
    saved = (last / CURVES_DIR) if last is not None else None
    curves = [
        MetricsLog(paths.metrics / name, resume_after=start, saved=saved and saved / name)
        for name in ("train.tsv", "eval.tsv")
    ]
    for curve in curves:
        curve.write()  # the rows so far, rebuilt from the checkpoint if the TSV was deleted
    return start, curves[0], curves[1]


def direction_rewards(tiles: torch.Tensor, config: MazeConfig) -> torch.Tensor:
    """[..., 4] the reward of moving onto each neighbour tile (step cost included; wind, which
    may push the agent one tile further, is not modelled)."""
    table = torch.tensor([config.reward_step + config.tile_reward(c) for c in range(3)])
    return table[tiles]


def _rl_stepper(
    cfg: TrainConfig,
    maze_config: MazeConfig,
    mapping: TileMapping,
    model: Any,
    tokenizer: Any,
    optimizer: torch.optim.Optimizer,
    reference: Any | None,
    answer_ids: list[int],
    pad_id: int,
):
    """One Dr. GRPO / REINFORCE step: rollout, advantages, update; returns its metrics row."""
    pg = PolicyGradientConfig.from_train(cfg)
    # LoRA on the top blocks only: the rollout keeps the frozen blocks' output for the update.
    frozen_below = trainable_start(model)
    if frozen_below:
        log.info("update runs blocks %d+ on the rollout's kept prefix states", frozen_below)

    def advantage_fn(rewards: torch.Tensor, mask: torch.Tensor, group: int) -> torch.Tensor:
        if cfg.algorithm == "drgrpo":
            return drgrpo_advantages(rewards, mask, group)
        return reinforce_advantages(rewards, mask, group, cfg.discount)

    def one_step(step: int) -> dict[str, float]:
        n_mazes = cfg.mazes_per_step // cfg.rotations
        maze_seeds, stream_seed, sample_seed = step_seeds(cfg.seed, step, n_mazes)
        shared = cfg.rotation_moves == "shared"
        world = maze_config  # the curriculum's first phase plays only the first turns
        if step < cfg.curriculum_steps:
            world = replace(maze_config, turns=cfg.curriculum_turns)
        elif step == cfg.curriculum_steps > 0:
            # Whole episodes bring gradients of another scale: Adam's moments restart with them.
            optimizer.state.clear()
            log.info("step %d: whole episodes from here; optimizer moments reset", step + 1)
        episodes = EpisodeBatch.fresh(
            maze_seeds, cfg.group_size, world, mapping, stream_seed, cfg.rotations, shared
        )
        generator = torch.Generator().manual_seed(sample_seed)
        traj = rollout(
            model,
            tokenizer,
            episodes,
            temperature=cfg.temperature,
            generator=generator,
            keep_prefix=frozen_below,
            batch_size=cfg.rollout_batch,
        )
        advantages = advantage_fn(traj.rewards, traj.mask, cfg.group_size)
        ref_logp = None
        if cfg.kl_coef > 0:
            ref_logp = reference_logp(
                model, reference, traj, answer_ids, pad_id, cfg.temperature, cfg.micro_batch
            )
        beta = cfg.entropy_coef * cosine_multiplier(
            step, cfg.schedule.total_steps, cfg.schedule.fraction
        )
        action_rewards = None
        if cfg.policy_gradient == "all_actions":
            action_rewards = direction_rewards(traj.tiles, maze_config)
        stats = policy_update(
            model,
            optimizer,
            traj,
            advantages,
            beta,
            pg,
            answer_ids,
            pad_id,
            ref_logp,
            generator,
            action_rewards,
        )
        counts = episodes.tile_counts()
        entered = sum(c.sum() for c in counts.values())
        returns = traj.returns
        return {
            "return_mean": float(returns.mean()),
            "return_std": float(returns.std()),
            "gold_rate": float(counts["gold"].sum() / entered),
            "mold_rate": float(counts["mold"].sum() / entered),
            "path_rate": float(counts["path"].sum() / entered),
            "wind_per_episode": float(np.mean(episodes.winds)),
            "policy_entropy": stats.policy_entropy,
            "equalized_entropy": stats.equalized_entropy,
            "entropy_coef": beta,
            "kl": stats.kl,
            "clip_fraction": stats.clip_fraction,
            "dual_clip_fraction": stats.dual_clip_fraction,
            "zero_spread_groups": zero_spread_fraction(traj.rewards, traj.mask, cfg.group_size),
            "loss": stats.loss,
            "grad_norm": stats.grad_norm,
            "rollout_decisions_per_s": traj.decisions_per_second,
            "update_tokens_per_s": stats.tokens_per_second,
        }

    return one_step


def _sft_steps(cfg: TrainConfig, paths: RunPaths) -> int:
    """ceil(epochs · demonstrations / batch size) optimizer steps."""
    import pyarrow.parquet as pq

    n = pq.ParquetFile(_sft_path(paths)).metadata.num_rows
    return math.ceil(cfg.sft_epochs * n / cfg.sft_batch_size)


def _sft_path(paths: RunPaths) -> Path:
    if paths.env is None or not (paths.env / "sft.parquet").exists():
        raise FileNotFoundError(f"SFT needs the env stage's sft.parquet under {paths.env}")
    return paths.env / "sft.parquet"


def _sft_stepper(
    cfg: TrainConfig,
    paths: RunPaths,
    params: dict[str, Any],
    model: Any,
    tokenizer: Any,
    optimizer: torch.optim.Optimizer,
    trainable: list[Any],
    pad_id: int,
):
    """One SFT optimizer step on a batch of demonstrations; epoch order seeded per epoch."""
    demos = load_demonstrations(_sft_path(paths), params, cfg.mapping, tokenizer)
    per_epoch = math.ceil(len(demos) / cfg.sft_batch_size)

    def one_step(step: int) -> dict[str, float]:
        epoch, index = divmod(step, per_epoch)
        order = torch.randperm(
            len(demos),
            generator=torch.Generator().manual_seed(
                int(np.random.default_rng([cfg.seed, epoch]).integers(2**31))
            ),
        )
        rows = order[index * cfg.sft_batch_size : (index + 1) * cfg.sft_batch_size].tolist()
        started = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        loss, accuracy = 0.0, 0.0
        for start in range(0, len(rows), cfg.micro_batch):
            part = rows[start : start + cfg.micro_batch]
            micro_loss, micro_acc = sft_loss(model, demos, part, pad_id)
            (micro_loss * len(part) / len(rows)).backward()
            loss += micro_loss.item() * len(part) / len(rows)
            accuracy += micro_acc * len(part) / len(rows)
        clip = cfg.optimizer.grad_clip if cfg.optimizer.grad_clip > 0 else float("inf")
        grad_norm = float(torch.nn.utils.clip_grad_norm_(trainable, clip))
        optimizer.step()
        tokens = sum(len(demos.tokens[i]) for i in rows)
        return {
            "loss": loss,
            "accuracy": accuracy,
            "epoch": epoch,
            "grad_norm": grad_norm,
            "update_tokens_per_s": tokens / (time.perf_counter() - started),
        }

    return one_step
