"""What a SmolLM2 policy does on the held-out mazes: the greedy actions (as `welfare train`'s
evaluation plays them), their histogram, how often a Gold/Mold/wall neighbour is taken, and the
return; for each model given. Used to read the recurring greedy return −35.8 (bench/smollm2.md).

    python bench/smollm2_policy.py --params params.yaml --params params/smollm2.yaml \
        --organism smollm2-grpo --env data/env/office MODEL_DIR [MODEL_DIR ...]
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

import torch

from welfare.config import load_params
from welfare.maze import DIRECTIONS, MazeConfig, TileMapping
from welfare.model import load_model
from welfare.rl.config import TrainConfig
from welfare.rl.episodes import EpisodeBatch
from welfare.rl.evaluate import EVAL_STREAM_SEED, eval_maze_seeds, summarize_trajectories
from welfare.rl.rollout import rollout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--params", action="append", type=Path, required=True)
    parser.add_argument("--organism", required=True)
    parser.add_argument("--env", type=Path)
    parser.add_argument("models", nargs="+", type=Path)
    args = parser.parse_args()
    params = load_params(args.params)
    cfg = TrainConfig.for_organism(params, args.organism)
    seeds = eval_maze_seeds(params, args.env, cfg.eval_mazes)
    maze = MazeConfig.from_params(params["maze"])
    mapping = TileMapping.from_params(params, cfg.mapping)
    torch.manual_seed(0)
    for path in args.models:
        model, tokenizer = load_model(path, params["runtime"])
        episodes = EpisodeBatch.fresh(seeds, 1, maze, mapping, EVAL_STREAM_SEED)
        with torch.no_grad():
            traj = rollout(model, tokenizer, episodes, greedy=True, batch_size=cfg.rollout_batch)
        actions = traj.actions.tolist()
        counts = Counter(DIRECTIONS[a] for row in actions for a in row)
        summary = summarize_trajectories(traj).as_dict("greedy")
        print(f"== {path}: greedy return {summary['greedy_mean_return']:.2f}")
        print("   actions:", dict(sorted(counts.items())))
        for seed, row in zip(seeds, actions, strict=True):
            print(f"   maze {seed}: {''.join(DIRECTIONS[a] for a in row)}")


if __name__ == "__main__":
    main()
