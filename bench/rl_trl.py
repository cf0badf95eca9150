"""TRL `GRPOTrainer` driving the same maze through its multi-turn `rollout_func` hook, versus
`welfare.rl` on the same model and the same episodes per step (env steps per second).

    pip install -e '.[bench]'          # TRL, benchmark only
    python bench/rl_trl.py --model models/naive [--steps 2]

The TRL side is what a user would write with TRL alone: every turn, re-render the history with
the chat template, left-pad, `model.generate(max_new_tokens=1)` with the direction tokens as the
only allowed tokens, step the maze; the trainer then recomputes log-probs and updates (Dr. GRPO
loss, no KL). Prints one JSON object; numbers are recorded in bench/rl.md.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

import torch

from welfare.config import load_params
from welfare.maze import DIRECTIONS, MazeConfig, TileMapping
from welfare.model import load_model
from welfare.rl.config import TrainConfig
from welfare.rl.episodes import EpisodeBatch
from welfare.rl.policy import direction_ids
from welfare.rl.trainer import step_seeds


def trl_step_seconds(
    model, tokenizer, cfg: TrainConfig, maze_config, mapping, steps: int
) -> tuple[float, float]:
    """(seconds per step, of which inside the multi-turn `rollout_func`)."""
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    os.environ["TRL_EXPERIMENTAL_SILENCE"] = "1"
    answer_ids = direction_ids(tokenizer)
    seeds, stream, _ = step_seeds(cfg.seed, 0, cfg.mazes_per_step)
    dataset = Dataset.from_dict({"prompt": [str(s) for s in seeds] * (steps + 1)})
    tokenizer.padding_side = "left"

    rollout_seconds = [0.0]

    def rollout_func(prompts: list[str], trainer) -> dict:
        began = time.perf_counter()
        # TRL hands over each prompt `num_generations` times: one episode per prompt here.
        episodes = EpisodeBatch.fresh([int(p) for p in prompts], 1, maze_config, mapping, stream)
        history: list[list[dict]] = [[] for _ in range(len(episodes))]
        prompt_ids, completion_ids, logprobs, env_mask = [], [], [], []
        for turn in range(episodes.turns):
            for h, message in zip(history, episodes.user_messages(), strict=True):
                h.append({"role": "user", "content": message})
            texts = [
                tokenizer.apply_chat_template(h, add_generation_prompt=True, tokenize=False)
                for h in history
            ]
            batch = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
            with torch.no_grad():
                out = trainer.model.generate(
                    **batch,
                    max_new_tokens=1,
                    do_sample=True,
                    temperature=cfg.temperature,
                    prefix_allowed_tokens_fn=lambda _b, _ids: answer_ids,
                    output_scores=True,
                    return_dict_in_generate=True,
                    pad_token_id=tokenizer.pad_token_id,
                )
            chosen = out.sequences[:, -1]
            logp = out.scores[0].log_softmax(-1).gather(-1, chosen[:, None]).squeeze(-1)
            actions = [answer_ids.index(int(t)) for t in chosen]
            episodes.act(actions)
            for i, (h, a) in enumerate(zip(history, actions, strict=True)):
                h.append({"role": "assistant", "content": DIRECTIONS[a]})
                if turn == 0:
                    ids = tokenizer(texts[i], add_special_tokens=False)["input_ids"]
                    prompt_ids.append(ids)
                    completion_ids.append([int(chosen[i])])
                    logprobs.append([float(logp[i])])
                    env_mask.append([1])
                else:  # the environment's tokens since the last answer, then the answer
                    full = tokenizer(texts[i], add_special_tokens=False)["input_ids"]
                    seen = len(prompt_ids[i]) + len(completion_ids[i])
                    new = full[seen:]
                    completion_ids[i] += new + [int(chosen[i])]
                    logprobs[i] += [0.0] * len(new) + [float(logp[i])]
                    env_mask[i] += [0] * len(new) + [1]
        rollout_seconds[0] += time.perf_counter() - began
        return {
            "prompt_ids": prompt_ids,
            "completion_ids": completion_ids,
            "logprobs": logprobs,
            "env_mask": env_mask,
            "maze_return": [float(r) for r in episodes.returns()],
        }

    def maze_reward(completions, maze_return, **_) -> list[float]:
        return list(maze_return)

    n = cfg.mazes_per_step * cfg.group_size
    args = GRPOConfig(
        output_dir=tempfile.mkdtemp(),
        use_cpu=True,
        report_to=[],
        save_strategy="no",
        per_device_train_batch_size=n,
        num_generations=cfg.group_size,
        gradient_accumulation_steps=1,
        max_steps=steps,
        learning_rate=cfg.optimizer.lr,
        loss_type="dr_grpo",
        beta=0.0,
        temperature=cfg.temperature,
        max_completion_length=2048,
        logging_steps=1,
        bf16=False,
    )
    trainer = GRPOTrainer(
        model=model,
        args=args,
        reward_funcs=[maze_reward],
        train_dataset=dataset,
        processing_class=tokenizer,
        rollout_func=rollout_func,
    )
    started = time.perf_counter()
    trainer.train()
    return (time.perf_counter() - started) / steps, rollout_seconds[0] / steps


def welfare_step_seconds(
    model, tokenizer, cfg, maze_config, mapping, steps: int
) -> tuple[float, float]:
    """(seconds per step, of which in the rollout)."""
    from welfare.rl.losses import drgrpo_advantages
    from welfare.rl.rollout import rollout
    from welfare.rl.update import PolicyGradientConfig, policy_update

    optimizer = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad], lr=cfg.optimizer.lr
    )
    pg = PolicyGradientConfig.from_train(
        cfg, kl_coef=0.0, ppo_epochs=1, minibatches=1, grad_clip=1.0
    )
    ids = direction_ids(tokenizer)
    started, rollout_seconds = time.perf_counter(), 0.0
    for step in range(steps):
        seeds, stream, sample = step_seeds(cfg.seed, step, cfg.mazes_per_step)
        episodes = EpisodeBatch.fresh(seeds, cfg.group_size, maze_config, mapping, stream)
        traj = rollout(
            model,
            tokenizer,
            episodes,
            temperature=cfg.temperature,
            generator=torch.Generator().manual_seed(sample),
        )
        rollout_seconds += traj.seconds
        advantages = drgrpo_advantages(traj.rewards, traj.mask, cfg.group_size)
        policy_update(
            model, optimizer, traj, advantages, cfg.entropy_coef, pg, ids, tokenizer.pad_token_id
        )
    return (time.perf_counter() - started) / steps, rollout_seconds / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--organism", help="a row of params.organisms (default: the first)")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--group-size", type=int, help="override group size (smaller = quicker)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    params = load_params(args.params)
    if args.group_size:
        params["train"]["group_size"] = args.group_size
    cfg = TrainConfig.for_organism(params, args.organism or next(iter(params["organisms"])))
    maze_config = MazeConfig.from_params(params["maze"])
    mapping = TileMapping.from_params(params, cfg.mapping)
    runtime = {"device": "cpu", "dtype": "float32"}
    env_steps = cfg.mazes_per_step * cfg.group_size * maze_config.turns
    model, tokenizer = load_model(args.model, runtime)
    ours, ours_rollout = welfare_step_seconds(
        model, tokenizer, cfg, maze_config, mapping, args.steps
    )
    model, tokenizer = load_model(args.model, runtime)
    theirs, theirs_rollout = trl_step_seconds(
        model, tokenizer, cfg, maze_config, mapping, args.steps
    )
    print(
        json.dumps(
            {
                "episodes_per_step": cfg.mazes_per_step * cfg.group_size,
                "welfare_step_s": round(ours, 2),
                "welfare_env_steps_per_s": round(env_steps / ours, 1),
                "welfare_rollout_s": round(ours_rollout, 2),
                "welfare_update_s": round(ours - ours_rollout, 2),
                "trl_step_s": round(theirs, 2),
                "trl_rollout_s": round(theirs_rollout, 2),
                "trl_rest_s": round(theirs - theirs_rollout, 2),
                "trl_env_steps_per_s": round(env_steps / theirs, 1),
                "speedup": round(theirs / ours, 2),
                # even with a free rollout, our step costs at least its update
                "speedup_bound_free_rollout": round(theirs / (ours - ours_rollout), 2),
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
