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
from dataclasses import dataclass
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


@dataclass(frozen=True)
class LetterPush:
    """One letter's share of a step's decisions, what it entered, and where the step pushes it."""

    letter: str
    share: float
    n: int
    entered: dict[str, int]
    mean_reward: float
    mean_advantage: dict[str, float]  # per algorithm
    push: dict[str, float]  # per algorithm: Σ A·(1[a = k] − share_k)

    def line(self) -> str:
        parts = [f"{self.letter}: share {self.share:.3f}, n {self.n:3d}, entered {self.entered}"]
        parts.append(f"reward {self.mean_reward:+.2f}")
        parts += [
            f"{a}: A {self.mean_advantage[a]:+.2f}, push {self.push[a]:+.1f}" for a in self.push
        ]
        return "; ".join(parts)


def letter_pushes(traj: Trajectories, group_size: int) -> list[LetterPush]:
    """Per letter N, E, S, W: the step's share, tiles entered, reward, advantages and push."""
    advantages = {
        "reinforce γ0": reinforce_advantages(traj.rewards, traj.mask, group_size, 0.0),
        "drgrpo": drgrpo_advantages(traj.rewards, traj.mask, group_size),
    }
    live = traj.mask.bool()
    share = torch.bincount(traj.actions[live], minlength=4).float() / int(live.sum())
    entered = traj.tiles.gather(-1, traj.actions[..., None]).squeeze(-1)
    out = []
    for k, letter in enumerate(DIRECTIONS):
        chosen = (traj.actions == k) & live
        n = int(chosen.sum())
        indicator = ((traj.actions == k).float() - share[k]) * traj.mask
        out.append(
            LetterPush(
                letter=letter,
                share=float(share[k]),
                n=n,
                entered=dict(Counter(Tile(t).name.lower() for t in entered[chosen].tolist())),
                mean_reward=float(traj.rewards[chosen].mean()) if n else 0.0,
                mean_advantage={
                    a: float(v[chosen].mean()) if n else 0.0 for a, v in advantages.items()
                },
                push={a: float((v * indicator).sum()) for a, v in advantages.items()},
            )
        )
    return out


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
        for letter in letter_pushes(traj, cfg.group_size):
            print("  ", letter.line())


if __name__ == "__main__":
    main()
