"""Greedy and optimal oracles: the planner equals exhaustive search."""

from __future__ import annotations

import itertools
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.maze.maze_helpers import make_state
from welfare.maze import (
    DIRECTIONS,
    MazeConfig,
    Tile,
    generate_maze,
    greedy_action,
    new_episode,
    optimal_plan,
    plan_return,
    step,
)

CONFIG = MazeConfig()


def _brute_force_best(state, config: MazeConfig, horizon: int) -> float:
    """Exhaustive search over all 4^horizon action sequences."""
    return max(
        plan_return(state, list(actions), config)
        for actions in itertools.product(DIRECTIONS, repeat=horizon)
    )


def _random_midgame_state(seed: int, n_moves: int):
    """A state a few random moves into an episode (with melted cells behind the agent)."""
    rng = np.random.default_rng(seed)
    state = new_episode(generate_maze(seed, 30))
    calm = MazeConfig(wind_probability=0.0)
    for _ in range(n_moves):
        state = step(state, DIRECTIONS[int(rng.integers(4))], rng, calm).state
    return state


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10**6), horizon=st.integers(1, 5), moves=st.integers(0, 4))
def test_optimal_plan_matches_exhaustive_search(seed: int, horizon: int, moves: int) -> None:
    state = _random_midgame_state(seed, moves)
    plan = optimal_plan(state, CONFIG, horizon)
    assert len(plan) == horizon
    best = _brute_force_best(state, CONFIG, horizon)
    assert plan_return(state, plan, CONFIG) == pytest.approx(best)


@pytest.mark.parametrize("config", [MazeConfig(melting=False), MazeConfig(reward_mold=-1.0)])
def test_optimal_plan_exact_under_other_dynamics(config: MazeConfig) -> None:
    for seed in range(4):
        state = _random_midgame_state(seed, 2)
        plan = optimal_plan(state, config, 5)
        best = _brute_force_best(state, config, 5)
        assert plan_return(state, plan, config) == pytest.approx(best)


def test_optimal_plan_crosses_one_mold_for_two_gold() -> None:
    # Path boxed in by Mold except a Mold gap that leads to two Gold: worth −10 + 40.
    grid_tiles = {(x, y): Tile.MOLD for x in range(1, 11) for y in range(1, 11)}
    grid_tiles.update({(5, 5): Tile.PATH, (6, 5): Tile.MOLD, (7, 5): Tile.GOLD, (8, 5): Tile.GOLD})
    state = make_state(grid_tiles, (5, 5))
    plan = optimal_plan(state, CONFIG, 3)
    assert plan == ["E", "E", "E"]
    assert plan_return(state, plan, CONFIG) == pytest.approx(-0.3 - 10 + 40)


def test_rng_tie_breaking_keeps_optimal_value() -> None:
    state = new_episode(generate_maze(11))
    value = plan_return(state, optimal_plan(state, CONFIG, 6), CONFIG)
    plans = {tuple(optimal_plan(state, CONFIG, 6, rng=np.random.default_rng(s))) for s in range(20)}
    assert all(plan_return(state, list(p), CONFIG) == pytest.approx(value) for p in plans)


def test_full_episode_plan_is_fast_and_beats_greedy() -> None:
    started = time.perf_counter()
    optimal, greedy = [], []
    for seed in range(10):
        state = new_episode(generate_maze(seed))
        optimal.append(plan_return(state, optimal_plan(state, CONFIG, 15), CONFIG))
        rng, total, s = np.random.default_rng(seed), 0.0, state
        calm = MazeConfig(wind_probability=0.0)
        for _ in range(15):
            result = step(s, greedy_action(s, rng), rng, calm)
            total, s = total + result.reward, result.state
        greedy.append(total)
    assert time.perf_counter() - started < 10  # ~20 ms per 15-turn plan on one core
    assert all(o >= g - 1e-9 for o, g in zip(optimal, greedy, strict=True))
    assert np.mean(optimal) > np.mean(greedy)


def test_greedy_prefers_gold_then_path_and_breaks_ties_at_random() -> None:
    state = make_state({(5, 4): Tile.MOLD, (6, 5): Tile.GOLD, (4, 5): Tile.MOLD}, (5, 5))
    assert {greedy_action(state, np.random.default_rng(s)) for s in range(20)} == {"E"}
    state = make_state({(5, 4): Tile.MOLD}, (5, 5))
    assert {greedy_action(state, np.random.default_rng(s)) for s in range(50)} == {"E", "S", "W"}


def test_zero_turns_left_is_empty_plan() -> None:
    assert optimal_plan(new_episode(generate_maze(0)), CONFIG, 0) == []
