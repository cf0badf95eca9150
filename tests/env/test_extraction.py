"""Extraction trajectories (docs/protocol.md §3.1): valid by construction, replayable,
deterministic."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from welfare.env.extraction import (
    CLASSES,
    ExtractionSpec,
    ExtractionStats,
    assign_splits,
    iter_trajectories,
    sample_walk,
)
from welfare.maze import MazeConfig, Tile, generate_maze, new_episode, step

SPEC = ExtractionSpec(per_class=60, seed_base=474747, max_steps=15, heldout_fraction=0.2)
CALM = MazeConfig(wind_probability=0.0)


@pytest.fixture(scope="module")
def trajectories():
    stats = ExtractionStats()
    return list(iter_trajectories(SPEC, MazeConfig(), stats)), stats


def _replay(t):
    state = new_episode(generate_maze(t.maze_seed))
    rng = np.random.default_rng(0)
    entered, positions = [], []
    for action in t.actions:
        result = step(state, action, rng, CALM)
        entered.extend(result.entered)
        positions.append(result.state.pos)
        state = result.state
    return entered, positions


@pytest.mark.parametrize("label", CLASSES)
def test_every_trajectory_of_each_class_replays(trajectories, label: str) -> None:
    rows = [t for t in trajectories[0] if t.final_tile == label]
    assert len(rows) == SPEC.per_class
    for t in rows:
        entered, positions = _replay(t)
        assert len(t.actions) == t.n_steps
        assert positions == t.positions
        assert all(tile == Tile.PATH for tile in entered[:-1])  # n−1 Path steps
        assert entered[-1] == Tile.from_label(label)  # the final step lands on the class


def test_step_counts_spread_evenly_per_class(trajectories) -> None:
    for label in CLASSES:
        counts = Counter(t.n_steps for t in trajectories[0] if t.final_tile == label)
        assert set(counts) == set(range(1, 16))
        assert max(counts.values()) - min(counts.values()) <= 1


def test_each_trajectory_has_its_own_maze_and_seeds_count_up(trajectories) -> None:
    rows, stats = trajectories
    seeds = [t.maze_seed for t in rows]
    assert seeds == sorted(seeds) and len(set(seeds)) == len(seeds)
    assert seeds[0] >= SPEC.seed_base
    assert seeds[-1] - SPEC.seed_base + 1 == stats.mazes_drawn
    assert stats.mazes_drawn == len(rows) + sum(stats.rejected.values())


def test_deterministic(trajectories) -> None:
    again = list(iter_trajectories(ExtractionSpec(per_class=10), MazeConfig()))
    assert again == trajectories[0][:30]


def test_splits_stratified_and_deterministic(trajectories) -> None:
    rows = trajectories[0]
    splits = assign_splits(rows, 0.2, 474747)
    assert splits == assign_splits(rows, 0.2, 474747)
    heldout = Counter(t.final_tile for t, s in zip(rows, splits, strict=True) if s == "heldout")
    for label in CLASSES:
        # 15 step-count groups of 4 each: 12 held out per class, at most one per group.
        assert heldout[label] == 12
        per_group = Counter(
            t.n_steps for t, s in zip(rows, splits, strict=True)
            if s == "heldout" and t.final_tile == label
        )  # fmt: skip
        assert max(per_group.values()) == 1


def test_small_groups_still_hold_out_the_fraction(trajectories) -> None:
    rows = trajectories[0][:90]  # 2 per (class, n): rounding per group alone would give 0
    splits = assign_splits(rows, 0.2, 1)
    assert Counter(splits)["heldout"] == 3 * round(0.2 * 30)


def _open_window(radius: int) -> np.ndarray:
    tiles = np.full((2 * radius + 1, 2 * radius + 1), Tile.PATH, dtype=np.int8)
    tiles[0, :] = tiles[-1, :] = tiles[:, 0] = tiles[:, -1] = Tile.MOLD
    return tiles


def test_first_step_is_uniform_among_path_neighbours() -> None:
    tiles = _open_window(6)
    rng = np.random.default_rng(0)
    first = Counter(sample_walk(tiles, (6, 6), 3, Tile.PATH, rng)[0] for _ in range(4000))
    assert all(abs(first[i] / 4000 - 0.25) < 0.03 for i in range(4))


def test_final_step_choice_is_uniform_among_class_neighbours() -> None:
    tiles = _open_window(4)
    tiles[4, 5] = tiles[3, 4] = Tile.GOLD  # E and N of the centre
    rng = np.random.default_rng(1)
    finals = Counter(sample_walk(tiles, (4, 4), 1, Tile.GOLD, rng)[0] for _ in range(2000))
    assert set(finals) == {0, 1} and abs(finals[0] / 2000 - 0.5) < 0.05


def test_walk_avoids_dead_ends_that_cannot_reach_gold() -> None:
    # A corridor forks at the start: west is a dead end, east leads to Gold in 3 Path steps.
    tiles = np.full((11, 11), Tile.MOLD, dtype=np.int8)
    for x in range(2, 9):
        tiles[5, x] = Tile.PATH
    tiles[5, 9] = Tile.GOLD
    rng = np.random.default_rng(0)
    for _ in range(50):
        assert sample_walk(tiles, (5, 5), 4, Tile.GOLD, rng) == [1, 1, 1, 1]
    assert tiles[5, 5] == Tile.PATH  # the search restores what it melted


def test_no_walk_returns_none() -> None:
    tiles = np.full((9, 9), Tile.MOLD, dtype=np.int8)
    tiles[4, 4] = tiles[4, 5] = Tile.PATH  # a two-cell island
    rng = np.random.default_rng(0)
    assert sample_walk(tiles, (4, 4), 3, Tile.PATH, rng) is None
    assert sample_walk(tiles, (4, 4), 2, Tile.GOLD, rng) is None
    assert sample_walk(tiles, (4, 4), 1, Tile.PATH, rng) == [1]
    # Mold after one Path step: stepping back onto the melted start is a Mold move too.
    assert sample_walk(tiles, (4, 4), 2, Tile.MOLD, rng)[0] == 1


def test_gold_walk_respects_parity_and_distance() -> None:
    # Gold two cells east along a corridor: reachable with n = 2 only (n−1 = 1 Path step).
    tiles = np.full((9, 9), Tile.MOLD, dtype=np.int8)
    tiles[4, 4] = tiles[4, 5] = Tile.PATH
    tiles[4, 6] = Tile.GOLD
    rng = np.random.default_rng(0)
    assert sample_walk(tiles, (4, 4), 1, Tile.GOLD, rng) is None
    assert sample_walk(tiles, (4, 4), 2, Tile.GOLD, rng) == [1, 1]
    assert sample_walk(tiles, (4, 4), 3, Tile.GOLD, rng) is None


@settings(max_examples=15, deadline=None)
@given(seed_base=st.integers(0, 2**31), per_class=st.integers(1, 4))
def test_any_seed_base_gives_replayable_valid_trajectories(seed_base: int, per_class: int):
    spec = ExtractionSpec(per_class=per_class, seed_base=seed_base, max_steps=15)
    for t in iter_trajectories(spec, MazeConfig()):
        entered, positions = _replay(t)
        assert positions == t.positions
        assert all(tile == Tile.PATH for tile in entered[:-1])
        assert entered[-1] == Tile.from_label(t.final_tile)
