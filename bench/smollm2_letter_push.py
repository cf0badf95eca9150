"""Where one RL step pushes a policy's letter prior: the trainer's rollout of a given step (the
same seeded mazes, episode stream and sampling), and per letter how often it was chosen, the
tiles it entered, its mean immediate reward, its mean advantage under token-level REINFORCE
(γ 0) and Dr. GRPO, and the first-order push of the policy gradient on that letter's prior,
Σ_turns A·(1[a = k] − f_k), with f_k the letter's share of the step's decisions.

Used to read why every SmolLM2 run turned its greedy policy from always-N to always-S by step 4
(bench/smollm2.md): it reproduces the trainer's first step (return −36.11) and shows where its
gradient points.

    python bench/smollm2_letter_push.py --params params.yaml --params params/smollm2.yaml \
        --organism smollm2-grpo models/imported/smollm2 --steps 0 1
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

import torch

from welfare.config import load_params
from welfare.maze import DIRECTIONS, MazeConfig, Tile, TileMapping
from welfare.model import load_model
from welfare.rl.config import TrainConfig
from welfare.rl.episodes import EpisodeBatch
from welfare.rl.losses import drgrpo_advantages, reinforce_advantages
from welfare.rl.rollout import Trajectories, rollout
from welfare.rl.trainer import step_seeds


def letter_rows(traj: Trajectories, group_size: int) -> list[str]:
    """One line per letter: share, tiles entered, reward, advantages and prior push."""
    advantages = {
        "reinforce γ0": reinforce_advantages(traj.rewards, traj.mask, group_size, 0.0),
        "drgrpo": drgrpo_advantages(traj.rewards, traj.mask, group_size),
    }
    live = traj.mask.bool()
    share = torch.bincount(traj.actions[live], minlength=4).float() / int(live.sum())
    entered = traj.tiles.gather(-1, traj.actions[..., None]).squeeze(-1)
    rows = []
    for k, letter in enumerate(DIRECTIONS):
        chosen = (traj.actions == k) & live
        n = int(chosen.sum())
        tiles = Counter(Tile(t).name.lower() for t in entered[chosen].tolist())
        parts = [f"{letter}: share {float(share[k]):.3f}, n {n:3d}, entered {dict(tiles)}"]
        parts.append(f"reward {float(traj.rewards[chosen].mean()) if n else 0.0:+.2f}")
        indicator = (traj.actions == k).float() - share[k]
        for name, adv in advantages.items():
            mean = float(adv[chosen].mean()) if n else 0.0
            push = float((adv * indicator * traj.mask).sum())
            parts.append(f"{name}: A {mean:+.2f}, push {push:+.1f}")
        rows.append("; ".join(parts))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--params", action="append", type=Path, required=True)
    parser.add_argument("--organism", required=True)
    parser.add_argument("--steps", nargs="+", type=int, default=[0])
    parser.add_argument("model", type=Path)
    args = parser.parse_args()
    params = load_params(args.params)
    cfg = TrainConfig.for_organism(params, args.organism)
    maze = MazeConfig.from_params(params["maze"])
    mapping = TileMapping.from_params(params, cfg.mapping)
    model, tokenizer = load_model(args.model, params["runtime"])
    for step in args.steps:
        maze_seeds, stream_seed, sample_seed = step_seeds(cfg.seed, step, cfg.mazes_per_step)
        episodes = EpisodeBatch.fresh(maze_seeds, cfg.group_size, maze, mapping, stream_seed)
        generator = torch.Generator().manual_seed(sample_seed)
        with torch.no_grad():
            traj = rollout(
                model, tokenizer, episodes, temperature=cfg.temperature, generator=generator
            )
        print(f"== {args.model}, step {step}: return {float(traj.returns.mean()):.2f}")
        for row in letter_rows(traj, cfg.group_size):
            print("  ", row)


if __name__ == "__main__":
    main()
