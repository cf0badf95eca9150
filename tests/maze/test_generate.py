"""Invariants of maze generation (docs/protocol.md §1.2 / App. J.1), property-based."""

from __future__ import annotations

import hashlib
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from welfare.maze import MazeConfig, Tile, generate_maze
from welfare.maze.generate import carve_steps_range, nearest_path_to_centre

SEEDS = st.integers(min_value=0, max_value=2**32 - 1)
SIZES = st.integers(min_value=20, max_value=60)


def _interior(grid: np.ndarray) -> np.ndarray:
    return grid[1:-1, 1:-1]


@settings(max_examples=60, deadline=None)
@given(seed=SEEDS, size=SIZES)
def test_grid_shape_dtype_codes_and_border(seed: int, size: int) -> None:
    maze = generate_maze(seed, size)
    assert maze.grid.shape == (size, size)
    assert maze.grid.dtype == np.int8
    assert set(np.unique(maze.grid)) <= {Tile.PATH, Tile.MOLD, Tile.GOLD}
    border = np.concatenate([maze.grid[0], maze.grid[-1], maze.grid[:, 0], maze.grid[:, -1]])
    assert (border == Tile.MOLD).all()
    assert not maze.grid.flags.writeable


@settings(max_examples=60, deadline=None)
@given(seed=SEEDS, size=SIZES)
def test_interior_mold_fraction_in_range(seed: int, size: int) -> None:
    config = MazeConfig()
    interior = _interior(generate_maze(seed, size, config=config).grid)
    fraction = np.count_nonzero(interior == Tile.MOLD) / interior.size
    assert config.mold_low <= fraction < config.mold_high


@settings(max_examples=60, deadline=None)
@given(seed=SEEDS, size=SIZES, ratio=st.sampled_from([0.0, 0.01, 0.2, 0.5]))
def test_gold_count_is_max_one_floor_ratio_times_mold(seed: int, size: int, ratio: float) -> None:
    config = MazeConfig(gold_ratio=ratio)
    interior = _interior(generate_maze(seed, size, config=config).grid)
    n_mold = np.count_nonzero(interior == Tile.MOLD)
    assert np.count_nonzero(interior == Tile.GOLD) == max(1, math.floor(ratio * n_mold))


def test_default_maze_has_paper_counts() -> None:
    # 98² = 9604 interior cells: Mold just under half (4801), Gold ⌊0.2·4801⌋ = 960.
    grid = generate_maze(0).grid
    assert np.count_nonzero(_interior(grid) == Tile.MOLD) == 4801
    assert np.count_nonzero(grid == Tile.GOLD) == 960


@settings(max_examples=60, deadline=None)
@given(seed=SEEDS, size=SIZES)
def test_start_is_the_path_cell_nearest_the_centre(seed: int, size: int) -> None:
    maze = generate_maze(seed, size)
    x, y = maze.start
    assert maze.grid[y, x] == Tile.PATH
    centre = size // 2
    ys, xs = np.nonzero(maze.grid == Tile.PATH)
    # BFS over all cells visits cells in order of Manhattan distance from the centre.
    assert abs(x - centre) + abs(y - centre) == (np.abs(xs - centre) + np.abs(ys - centre)).min()


def test_bfs_tie_break_prefers_north_first() -> None:
    grid = np.ones((11, 11), dtype=np.int8)
    for x, y in [(5, 4), (6, 5), (5, 6), (4, 5)]:  # all four neighbours of the centre are Path
        grid[y, x] = Tile.PATH
    assert nearest_path_to_centre(grid) == (5, 4)
    grid[4, 5] = Tile.MOLD
    assert nearest_path_to_centre(grid) == (6, 5)


def test_carve_steps_range_is_paper_range() -> None:
    assert carve_steps_range(100, MazeConfig()) == (490, 1470)


@settings(max_examples=30, deadline=None)
@given(seed=SEEDS, size=SIZES)
def test_carving_alone_leaves_a_connected_path_region_when_no_flips(seed: int, size: int) -> None:
    # With the density fix disabled (mold_high = 1) and no Gold, the non-Mold cells are exactly
    # the carved walk: one 4-connected region, no larger than the longest walk allows.
    config = MazeConfig(mold_low=0.0, mold_high=1.0, gold_ratio=0.0)
    maze = generate_maze(seed, size, config=config)
    path = maze.grid != Tile.MOLD
    n_gold = np.count_nonzero(maze.grid == Tile.GOLD)
    assert n_gold == 1  # max(1, ⌊0·n⌋)
    seen = {maze.start}
    stack = [maze.start]
    while stack:
        x, y = stack.pop()
        for nx, ny in ((x, y - 1), (x + 1, y), (x, y + 1), (x - 1, y)):
            if path[ny, nx] and (nx, ny) not in seen:
                seen.add((nx, ny))
                stack.append((nx, ny))
    assert len(seen) == np.count_nonzero(path)
    lo, hi = carve_steps_range(size, config)
    assert len(seen) <= hi + 1


@settings(max_examples=30, deadline=None)
@given(seed=SEEDS, size=SIZES)
def test_same_seed_same_maze(seed: int, size: int) -> None:
    a, b = generate_maze(seed, size), generate_maze(seed, size)
    assert np.array_equal(a.grid, b.grid) and a.start == b.start


def test_different_seeds_differ() -> None:
    grids = {generate_maze(s).grid.tobytes() for s in range(20)}
    assert len(grids) == 20


def test_seed_zero_is_identical_on_every_machine() -> None:
    # PCG64 streams are platform independent; this pins the generator's exact output.
    maze = generate_maze(0)
    assert maze.start == (50, 50)
    digest = hashlib.sha256(maze.grid.tobytes()).hexdigest()[:16]
    assert digest == EXPECTED_SEED0_DIGEST


def test_size_argument_overrides_config_size() -> None:
    assert generate_maze(1, config=MazeConfig(size=30)).size == 30
    assert generate_maze(1, 25, config=MazeConfig(size=30)).size == 25
    assert generate_maze(1).size == 100


def test_low_mold_fraction_is_raised_to_the_minimum() -> None:
    # An overlay that asks for at least 90% Mold flips Path cells back to Mold.
    config = MazeConfig(mold_low=0.9, mold_high=0.95)
    interior = _interior(generate_maze(3, 30, config=config).grid)
    fraction = np.count_nonzero(interior == Tile.MOLD) / interior.size
    assert 0.9 <= fraction < 0.95


@pytest.mark.parametrize("size", [2, 1])
def test_too_small_size_is_rejected(size: int) -> None:
    with pytest.raises(ValueError):
        generate_maze(0, size)


EXPECTED_SEED0_DIGEST = "f3f9efdff3583928"


@pytest.mark.parametrize("seed", [0, 3, 11])
def test_a_quarter_turn_moves_what_lay_north_to_the_east(seed):
    from welfare.maze import neighbour_tiles, new_episode, step

    maze = generate_maze(seed, 20)
    turned = maze.rotated(1)
    before, after = neighbour_tiles(new_episode(maze)), neighbour_tiles(new_episode(turned))
    assert [after[d] for d in "ESWN"] == [before[d] for d in "NESW"]
    assert not turned.grid.flags.writeable
    assert turned.tile(*turned.start) == maze.tile(*maze.start)
    # walking north in the maze is walking east in the turned one, tile for tile
    calm = MazeConfig(size=20, turns=4, wind_probability=0.0)
    state, twin = new_episode(maze), new_episode(turned)
    for action, turned_action in zip("NNWS", "EENW", strict=True):
        a = step(state, action, np.random.default_rng(0), calm)
        b = step(twin, turned_action, np.random.default_rng(0), calm)
        assert a.reward == b.reward and a.entered == b.entered
        state, twin = a.state, b.state
    full = maze.rotated(4)
    assert np.array_equal(full.grid, maze.grid) and full.start == maze.start
    assert np.array_equal(maze.rotated(2).grid, maze.rotated(1).rotated(1).grid)
