"""The real LM's RL hot path: rollout and update against a bare batched forward over the same
tokens (issue 20's targets: rollout ≥ 0.8× the forward's tokens/s; update ≤ 1.5× its time).

    python bench/smollm2_speed.py --model models/imported/smollm2 [--mazes 2 --group 8 --turns 8]
        [--top-layers 0 8 4] [--threads 2]

One process; the same seeded episodes for every variant. For each `--top-layers` k the model is
loaded with LoRA (r 32, α 64, all linear) on the top k blocks (0: every block, the paper's) and
one Dr. GRPO update is timed on one rollout (with the frozen-prefix reuse when k > 0). Prints
one JSON object; the numbers are recorded by hand in bench/smollm2.md.
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from welfare.config import load_params
from welfare.maze import MazeConfig, TileMapping
from welfare.model import load_model
from welfare.rl.config import TrainConfig
from welfare.rl.episodes import EpisodeBatch
from welfare.rl.losses import drgrpo_advantages
from welfare.rl.policy import decision_logits, direction_ids
from welfare.rl.prefix import trainable_start
from welfare.rl.rollout import rollout
from welfare.rl.update import PolicyGradientConfig, policy_update

LORA = {"rank": 32, "alpha": 64, "dropout": 0.0, "target_modules": "all-linear"}


def _episodes(params: dict, args: argparse.Namespace) -> EpisodeBatch:
    maze = MazeConfig.from_params({**params["maze"], "turns": args.turns})
    mapping = TileMapping.from_params(params, "office")
    seeds = [1_000_000_007 + i for i in range(args.mazes)]
    return EpisodeBatch.fresh(seeds, args.group, maze, mapping, stream_seed=0)


def _bare_forward(model, tokenizer, traj, micro_batch: int) -> float:
    """Seconds of a plain no-grad forward of the decoder over the rollout's whole episodes."""
    ids, pad = direction_ids(tokenizer), tokenizer.pad_token_id
    started = time.perf_counter()
    with torch.no_grad():
        order = sorted(range(len(traj.tokens)), key=lambda i: len(traj.tokens[i]))
        for start in range(0, len(order), micro_batch):
            rows = order[start : start + micro_batch]
            decision_logits(
                model, [traj.tokens[i] for i in rows], traj.decision_index[rows], pad, ids, False
            )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="models/imported/smollm2")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--mazes", type=int, default=2)
    parser.add_argument("--group", type=int, default=8)
    parser.add_argument("--turns", type=int, default=8)
    parser.add_argument("--micro-batch", type=int, default=8)
    parser.add_argument("--top-layers", type=int, nargs="+", default=[0, 8, 4])
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    params = load_params([args.params])
    runtime = {"device": "cpu", "dtype": "float32"}
    result: dict = {"args": vars(args), "variants": {}}
    for top in args.top_layers:
        model, tokenizer = load_model(args.model, runtime, lora=LORA | {"top_layers": top})
        start = trainable_start(model)
        generator = torch.Generator().manual_seed(0)
        traj = rollout(
            model, tokenizer, _episodes(params, args), generator=generator, keep_prefix=start
        )
        tokens = sum(len(t) for t in traj.tokens)
        forward = _bare_forward(model, tokenizer, traj, args.micro_batch)
        cfg = TrainConfig.for_organism(
            params
            | {"organisms": {"x": {"algorithm": "drgrpo", "adapter": "lora", "mapping": "office"}}},
            "x",
        )
        pg = PolicyGradientConfig.from_train(cfg, micro_batch=args.micro_batch)
        optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5)
        advantages = drgrpo_advantages(traj.rewards, traj.mask, args.group)
        stats = policy_update(
            model,
            optimizer,
            traj,
            advantages,
            0.01,
            pg,
            direction_ids(tokenizer),
            tokenizer.pad_token_id,
        )
        result["variants"][f"top_layers={top}"] = {
            "frozen_below": start,
            "episodes": len(traj.tokens),
            "tokens": tokens,
            "rollout_s": round(traj.seconds, 2),
            "bare_forward_s": round(forward, 2),
            "update_s": round(stats.seconds, 2),
            "rollout_tokens_per_s": round(tokens / traj.seconds, 1),
            "forward_tokens_per_s": round(tokens / forward, 1),
            "rollout_vs_forward_speed": round(forward / traj.seconds, 3),
            "update_vs_forward_time": round(stats.seconds / forward, 3),
        }
        print(json.dumps({top: result["variants"][f"top_layers={top}"]}), flush=True)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
