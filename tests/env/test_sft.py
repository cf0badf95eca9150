"""SFT demonstrations: optimal play, re-planned after wind, reproducible."""

from __future__ import annotations

import numpy as np
import pytest

from welfare.env.eval_mazes import evaluate_maze
from welfare.env.sft import make_demonstration
from welfare.maze import MazeConfig, generate_maze, new_episode, optimal_plan, plan_return

CONFIG = MazeConfig()


def test_calm_demo_return_equals_planner_optimum() -> None:
    calm = MazeConfig(wind_probability=0.0)
    for seed in range(3):
        demo = make_demonstration(seed, calm)
        state = new_episode(generate_maze(seed))
        best = plan_return(state, optimal_plan(state, calm, 15), calm)
        assert demo.total_return == pytest.approx(best)
        assert all(w == "" for w in demo.winds)


def test_demo_is_deterministic_and_consistent() -> None:
    a, b = make_demonstration(700001, CONFIG), make_demonstration(700001, CONFIG)
    assert a == b
    assert len(a.actions) == len(a.positions) == len(a.rewards) == len(a.render_seeds) == 15
    assert a.total_return == pytest.approx(sum(a.rewards))


def test_eval_maze_reference_returns() -> None:
    row = evaluate_maze(900000, CONFIG)
    maze = generate_maze(900000)
    assert (row.start_x, row.start_y) == maze.start
    assert row.optimal_return >= row.greedy_return - 1e-9
    assert row.n_gold == int(np.count_nonzero(maze.grid == 2))
