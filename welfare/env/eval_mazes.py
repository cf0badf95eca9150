"""Held-out evaluation mazes with their reference returns.

Seeds ``seed_base .. seed_base + n − 1`` (disjoint from the extraction and SFT seed ranges by
default). For each: the start, tile counts, and two calm (no-wind) reference returns over a full
episode: the optimal planner's (the ceiling training results are reported against) and a
greedy agent's (ties broken by a stream derived from the seed).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from welfare.env.seeds import Stream, derived_rng
from welfare.maze import (
    MazeConfig,
    Tile,
    generate_maze,
    greedy_action,
    new_episode,
    optimal_plan,
    step,
)
from welfare.maze.oracles import deterministic_config, plan_return


@dataclass(frozen=True)
class EvalMaze:
    maze_seed: int
    start_x: int
    start_y: int
    n_gold: int
    n_mold: int
    optimal_return: float
    greedy_return: float


def greedy_return(maze_seed: int, config: MazeConfig) -> float:
    """Calm return of the greedy agent over one full episode of maze `maze_seed`."""
    calm = deterministic_config(config)
    state = new_episode(generate_maze(maze_seed, config=calm))
    ties = derived_rng(maze_seed, Stream.GREEDY)
    calm_wind = np.random.default_rng(0)  # wind probability 0: consumed, never decides
    total = 0.0
    for _ in range(calm.turns):
        result = step(state, greedy_action(state, ties, calm), calm_wind, calm)
        total += result.reward
        state = result.state
    return total


def evaluate_maze(maze_seed: int, config: MazeConfig) -> EvalMaze:
    maze = generate_maze(maze_seed, config=config)
    state = new_episode(maze)
    plan = optimal_plan(state, config, config.turns)
    return EvalMaze(
        maze_seed=maze_seed,
        start_x=maze.start[0],
        start_y=maze.start[1],
        n_gold=int(np.count_nonzero(maze.grid == Tile.GOLD)),
        n_mold=int(np.count_nonzero(maze.grid[1:-1, 1:-1] == Tile.MOLD)),
        optimal_return=plan_return(state, plan, config),
        greedy_return=greedy_return(maze_seed, config),
    )
