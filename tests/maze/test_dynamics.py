"""Episode dynamics: rewards, melting, both wind modes, turn limit (docs/protocol.md §1.1, §1.5)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.maze.maze_helpers import ScriptedWind, make_state
from welfare.maze import (
    DIRECTIONS,
    MazeConfig,
    Tile,
    WindEvent,
    generate_maze,
    move,
    neighbour_tiles,
    new_episode,
    step,
)

CALM = MazeConfig(wind_probability=0.0)


@pytest.mark.parametrize(
    ("tile", "reward"), [(Tile.PATH, -0.1), (Tile.GOLD, 19.9), (Tile.MOLD, -10.1)]
)
def test_turn_reward_is_step_cost_plus_tile(tile: Tile, reward: float) -> None:
    state = make_state({(5, 4): tile}, (5, 5))
    result = step(state, "N", np.random.default_rng(0), CALM)
    assert result.reward == pytest.approx(reward)
    assert result.entered == (tile,)
    assert result.state.pos == (5, 4)
    assert result.wind is None


def test_directions_move_in_xy() -> None:
    state = make_state({}, (5, 5))
    moved = {d: step(state, d, np.random.default_rng(0), CALM).state.pos for d in DIRECTIONS}
    assert moved == {"N": (5, 4), "E": (6, 5), "S": (5, 6), "W": (4, 5)}


def test_tile_left_melts_into_mold_and_going_back_costs_mold() -> None:
    state = make_state({(5, 5): Tile.GOLD}, (5, 5))
    after = step(state, "E", np.random.default_rng(0), CALM).state
    assert after.grid[5, 5] == Tile.MOLD
    back = step(after, "W", np.random.default_rng(0), CALM)
    assert back.entered == (Tile.MOLD,)
    assert back.reward == pytest.approx(-10.1)


def test_without_melting_gold_is_consumed_once() -> None:
    config = MazeConfig(wind_probability=0.0, melting=False)
    state = make_state({(6, 5): Tile.GOLD}, (5, 5))
    rng = np.random.default_rng(0)
    s1 = step(state, "E", rng, config)
    s2 = step(s1.state, "W", rng, config)
    s3 = step(s2.state, "E", rng, config)
    assert [s1.entered, s2.entered, s3.entered] == [(Tile.GOLD,), (Tile.PATH,), (Tile.PATH,)]


def test_step_is_pure() -> None:
    state = make_state({(5, 4): Tile.GOLD}, (5, 5))
    before = state.grid.copy()
    step(state, "N", np.random.default_rng(0), CALM)
    assert np.array_equal(state.grid, before) and state.pos == (5, 5) and state.turn == 0


def test_appendix_k_example_move_then_push() -> None:
    # App. K: chose N from (50, 47), landed on (50, 46), the wind blew it to (49, 46).
    config = MazeConfig(wind_mode="move_then_push")
    grid_state = make_state({(50, 46): Tile.GOLD, (49, 46): Tile.MOLD}, (50, 47), size=100)
    result = step(grid_state, "N", ScriptedWind(["W"]), config)
    assert result.state.pos == (49, 46)
    assert result.entered == (Tile.GOLD, Tile.MOLD)  # "Gold +20 and then Mold −10"
    assert result.reward == pytest.approx(-0.1 + 20 - 10)
    assert result.wind == WindEvent(push="W")
    assert result.wind.sentence() == "A strong wind from the East blew you West!"
    # Both tiles left melt: the start and the Gold tile passed through.
    assert result.state.grid[47, 50] == Tile.MOLD and result.state.grid[46, 50] == Tile.MOLD
    assert result.state.last_wind == WindEvent(push="W")


def test_appendix_j4_example_override() -> None:
    # App. J.4: W from (4, 7) ends at (4, 8): the chosen move was replaced by the wind's S.
    config = MazeConfig(wind_mode="override")
    state = make_state({}, (4, 7))
    result = step(state, "W", ScriptedWind(["S"]), config)
    assert result.state.pos == (4, 8)
    assert result.entered == (Tile.PATH,)
    assert result.state.grid[7, 4] == Tile.MOLD


def test_override_same_direction_moves_two_tiles() -> None:
    config = MazeConfig(wind_mode="override")
    state = make_state({(6, 5): Tile.GOLD}, (5, 5))
    result = step(state, "E", ScriptedWind(["E"]), config)
    assert result.state.pos == (7, 5)
    assert result.entered == (Tile.GOLD, Tile.PATH)
    assert result.state.grid[5, 6] == Tile.MOLD  # melted after the wind carried it on


def test_calm_turn_clears_last_wind() -> None:
    state = make_state({}, (5, 5))
    wind = ScriptedWind(["N", None])
    windy = step(state, "E", wind, MazeConfig())
    calm = step(windy.state, "E", wind, MazeConfig())
    assert windy.state.last_wind is not None and calm.state.last_wind is None


def test_wind_fires_about_ten_percent_with_uniform_push() -> None:
    state = new_episode(generate_maze(0))
    rng = np.random.default_rng(123)
    config = MazeConfig(turns=10**6)
    pushes = [step(state, "N", rng, config).wind for _ in range(20000)]
    fired = [w.push for w in pushes if w is not None]
    assert abs(len(fired) / 20000 - 0.1) < 0.01
    counts = np.array([fired.count(d) for d in DIRECTIONS]) / len(fired)
    assert np.all(np.abs(counts - 0.25) < 0.04)


def test_episode_has_exactly_the_configured_turns() -> None:
    state = new_episode(generate_maze(0))
    rng = np.random.default_rng(0)
    for _ in range(15):
        state = step(state, "N", rng, MazeConfig()).state
    assert state.turn == 15
    with pytest.raises(ValueError, match="episode is over"):
        step(state, "N", rng, MazeConfig())


def test_invalid_action_rejected() -> None:
    with pytest.raises(ValueError, match="action"):
        step(make_state({}, (5, 5)), "X", np.random.default_rng(0), CALM)


def test_total_reward_accumulates_and_same_rng_replays() -> None:
    maze = generate_maze(4)
    actions = list("NNEESSWWNESWNES")

    def play(seed: int):
        state, rng, rewards = new_episode(maze), np.random.default_rng(seed), []
        for a in actions:
            result = step(state, a, rng, MazeConfig())
            rewards.append(result.reward)
            state = result.state
        return state, rewards

    s1, r1 = play(7)
    s2, r2 = play(7)
    assert r1 == r2 and s1.pos == s2.pos
    assert s1.total_reward == pytest.approx(sum(r1))


def test_neighbour_tiles_and_outside_is_mold() -> None:
    state = make_state({(5, 4): Tile.GOLD, (4, 5): Tile.MOLD}, (5, 5))
    assert neighbour_tiles(state) == {
        "N": Tile.GOLD, "E": Tile.PATH, "S": Tile.PATH, "W": Tile.MOLD
    }  # fmt: skip
    corner = make_state({}, (0, 0))
    assert neighbour_tiles(corner)["N"] == Tile.MOLD and neighbour_tiles(corner)["W"] == Tile.MOLD


def test_new_episode_copies_the_grid() -> None:
    maze = generate_maze(0)
    state = new_episode(maze)
    assert state.pos == maze.start and state.turn == 0 and state.last_wind is None
    state.grid[0, 0] = Tile.GOLD
    assert maze.grid[0, 0] == Tile.MOLD


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    actions=st.lists(st.sampled_from(DIRECTIONS), min_size=1, max_size=15),
    mode=st.sampled_from(["move_then_push", "override"]),
    wind=st.sampled_from([0.0, 0.1, 0.5, 1.0]),
)
def test_turn_invariants_under_any_play(seed: int, actions: list[str], mode: str, wind: float):
    config = MazeConfig(wind_mode=mode, wind_probability=wind)
    state = new_episode(generate_maze(seed, 40))
    rng = np.random.default_rng(seed)
    total = 0.0
    for action in actions:
        result = step(state, action, rng, config)
        # Reward = step cost + the reward of every tile entered, in order.
        expected = config.reward_step + sum(config.tile_reward(t) for t in result.entered)
        assert result.reward == pytest.approx(expected)
        # One tile per move; a wind turn adds one (push) or replaces it (override: 1 or 2).
        if result.wind is None:
            assert len(result.entered) == 1
            assert result.state.pos == move(state.pos, action)
        else:
            assert len(result.entered) in (1, 2)
        # Melting: the cell left is Mold now.
        x, y = state.pos
        assert result.state.grid[y, x] == Tile.MOLD
        assert result.state.turn == state.turn + 1
        total += result.reward
        state = result.state
    assert state.total_reward == pytest.approx(total)
