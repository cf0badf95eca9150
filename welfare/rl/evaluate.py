"""Evaluation on held-out mazes: the model (greedy and sampled) against reference policies.

Every policy plays the same episodes: the same mazes and, per episode, the same wind / clause
stream (`EpisodeBatch` seeds them from `stream_seed`), so differences are the policies' own.
Reference policies (docs/protocol.md §1, issue 4): uniform random, keep-straight (one random
direction repeated), random among non-Mold neighbours, the one-step greedy oracle, and the optimal
planner (replanning after wind, like the SFT demonstrations).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from welfare.io import read_table
from welfare.maze import (
    DIRECTIONS,
    MazeConfig,
    Tile,
    TileMapping,
    greedy_action,
    move,
    optimal_plan,
)
from welfare.maze.dynamics import EpisodeState, neighbour_tiles
from welfare.rl.episodes import EpisodeBatch
from welfare.rl.rollout import Trajectories, rollout

EVAL_STREAM_SEED = 271828  # wind and clause shuffles of evaluation episodes


def eval_maze_seeds(params: dict[str, Any], env_dir: Path | None, n: int) -> list[int]:
    """The first `n` held-out maze seeds: from the env stage's eval_mazes.parquet when given,
    else the same seeds computed from `params.env.eval` (the env stage writes exactly these)."""
    if env_dir is not None and (env_dir / "eval_mazes.parquet").exists():
        seeds = read_table(env_dir / "eval_mazes.parquet", required=("maze_seed",))
        return [int(s) for s in seeds["maze_seed"].tolist()[:n]]
    base = int(params["env"]["eval"]["seed_base"])
    return list(range(base, base + min(n, int(params["env"]["eval"]["n_mazes"]))))


@dataclass(frozen=True)
class Summary:
    """Outcome of one policy over a batch of episodes."""

    mean_return: float
    std_return: float
    gold_per_episode: float
    mold_per_episode: float
    gold_when_adjacent: float  # share of decisions with a Gold neighbour that moved onto Gold

    def as_dict(self, prefix: str = "") -> dict[str, float]:
        return {f"{prefix}_{k}" if prefix else k: v for k, v in self.__dict__.items()}


def summarize(episodes: EpisodeBatch, actions: np.ndarray) -> Summary:
    returns = episodes.returns()
    counts = episodes.tile_counts()
    tiles = np.array(episodes.neighbours)  # [B, T, 4]
    chosen = np.take_along_axis(tiles, actions[..., None], -1)[..., 0]
    adjacent = (tiles == Tile.GOLD).any(-1)
    took = (chosen == Tile.GOLD) & adjacent
    return Summary(
        mean_return=float(returns.mean()),
        std_return=float(returns.std()),
        gold_per_episode=float(counts["gold"].mean()),
        mold_per_episode=float(counts["mold"].mean()),
        gold_when_adjacent=float(took.sum() / max(adjacent.sum(), 1)),
    )


def summarize_trajectories(traj: Trajectories) -> Summary:
    return summarize(traj.episodes, traj.actions.numpy())


# A reference policy: (episode index, state, rng, config, turn) -> direction letter.
ReferencePolicy = Callable[[int, EpisodeState, np.random.Generator, MazeConfig, int], str]


def _random(episode, state, rng, config, turn):
    return DIRECTIONS[int(rng.integers(4))]


def _random_non_mold(episode, state, rng, config, turn):
    tiles = neighbour_tiles(state)
    safe = [d for d in DIRECTIONS if tiles[d] != Tile.MOLD] or list(DIRECTIONS)
    return safe[int(rng.integers(len(safe)))]


def _greedy(episode, state, rng, config, turn):
    return greedy_action(state, rng, config)


def reference_policies() -> dict[str, Callable[[], ReferencePolicy]]:
    """Name -> factory of a fresh policy (keep-straight and the planner keep per-episode state)."""

    def keep_straight() -> ReferencePolicy:
        chosen: dict[int, str] = {}

        def policy(episode, state, rng, config, turn):
            if episode not in chosen:
                chosen[episode] = DIRECTIONS[int(rng.integers(4))]
            return chosen[episode]

        return policy

    def optimal() -> ReferencePolicy:
        plans: dict[int, tuple[tuple[int, int], list[str]]] = {}

        def policy(episode, state, rng, config, turn):
            where, plan = plans.get(episode, (None, []))
            if not plan or where != state.pos:  # first turn, plan used up, or wind moved us
                plan = optimal_plan(state, config, config.turns - turn, rng=rng)
            action, rest = plan[0], plan[1:]
            plans[episode] = (move(state.pos, action), rest)
            return action

        return policy

    return {
        "random": lambda: _random,
        "keep_straight": keep_straight,
        "random_non_mold": lambda: _random_non_mold,
        "greedy_oracle": lambda: _greedy,
        "optimal_planner": optimal,
    }


def play_reference(policy: ReferencePolicy, episodes: EpisodeBatch, seed: int) -> Summary:
    """Play `episodes` to the end with a reference policy (its own choice stream per episode)."""
    choice_rngs = [np.random.default_rng([seed, i]) for i in range(len(episodes))]
    actions = np.zeros((len(episodes), episodes.turns), dtype=np.int64)
    for turn in range(episodes.turns):
        episodes.user_messages()  # observe (records neighbours; keeps the streams aligned)
        letters = [
            policy(i, state, choice_rngs[i], episodes.config, turn)
            for i, state in enumerate(episodes.states)
        ]
        actions[:, turn] = [DIRECTIONS.index(a) for a in letters]
        episodes.act(actions[:, turn])
    return summarize(episodes, actions)


def evaluate_references(
    maze_seeds: Sequence[int], config: MazeConfig, mapping: TileMapping, group: int = 1
) -> dict[str, dict[str, float]]:
    out = {}
    for name, factory in reference_policies().items():
        episodes = EpisodeBatch.fresh(maze_seeds, group, config, mapping, EVAL_STREAM_SEED)
        out[name] = play_reference(factory(), episodes, seed=EVAL_STREAM_SEED).as_dict()
    return out


def evaluate_model(
    model: Any,
    tokenizer: Any,
    maze_seeds: Sequence[int],
    config: MazeConfig,
    mapping: TileMapping,
    *,
    temperature: float,
    sampled_group: int,
    batch_size: int = 0,
) -> dict[str, float]:
    """Greedy (one episode per maze) and sampled (`sampled_group` per maze) held-out returns;
    `batch_size` episodes played together (`rollout`; 0: all)."""
    greedy_eps = EpisodeBatch.fresh(maze_seeds, 1, config, mapping, EVAL_STREAM_SEED)
    greedy = rollout(model, tokenizer, greedy_eps, greedy=True, batch_size=batch_size)
    result = summarize_trajectories(greedy)
    out = result.as_dict("greedy")
    if sampled_group:
        sampled_eps = EpisodeBatch.fresh(
            maze_seeds, sampled_group, config, mapping, EVAL_STREAM_SEED
        )
        traj = rollout(
            model,
            tokenizer,
            sampled_eps,
            temperature=temperature,
            generator=torch.Generator().manual_seed(EVAL_STREAM_SEED),
            batch_size=batch_size,
        )
        out |= summarize_trajectories(traj).as_dict("sampled")
    return out
