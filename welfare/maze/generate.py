"""Maze generation exactly as docs/protocol.md §1.2 (Appendix J.1).

1. A `size`×`size` grid of Mold (the border stays Mold).
2. Carving: a random walk of U[low·(size−2), high·(size−2)] steps (integers, both ends included)
   from a uniformly chosen interior cell turns every visited interior cell into Path. A step into
   the border leaves the walker in place (the paper is silent; this keeps the walk uniform).
3. Density fix: while the interior Mold fraction is ≥ `mold_high`, uniformly chosen interior
   Mold cells become Path, stopping at the first count inside [mold_low, mold_high). (Symmetric
   extension, never hit by the defaults: below `mold_low`, Path cells become Mold.)
4. Gold: max(1, ⌊gold_ratio · n⌋) Gold tiles, n = interior Mold count, on uniformly chosen
   interior Path cells (capped so at least one Path cell remains for the start).
5. Start: the Path cell nearest the centre (size//2, size//2) by breadth-first search over the
   grid, neighbours expanded in N, E, S, W order (the paper's example start is (50, 49)).

Known tension (documented, not hidden): with gold_ratio 0.20 about 10% of interior cells are Gold,
a greedy agent scores about +17 per 15-turn episode, yet the paper's example rollout collects
10 Gold tiles (+198.5). J.1 stays the default; `maze.gold_ratio` changes it.

All randomness comes from ``np.random.default_rng(seed)`` (PCG64), whose streams are identical on
every platform, so a seed names one maze everywhere.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np

from welfare.maze.config import MazeConfig
from welfare.maze.tiles import DIRECTIONS, OFFSETS, Tile

# dx, dy per direction index in DIRECTIONS order.
_DX = np.array([OFFSETS[d][0] for d in DIRECTIONS], dtype=np.int64)
_DY = np.array([OFFSETS[d][1] for d in DIRECTIONS], dtype=np.int64)
# Plain ints: comparing arrays with IntEnum members is slower.
_PATH, _MOLD, _GOLD = int(Tile.PATH), int(Tile.MOLD), int(Tile.GOLD)


@dataclass(frozen=True, eq=False)
class Maze:
    """A generated maze. ``grid[y, x]`` holds Tile codes (np.int8, read-only); start is (x, y)."""

    grid: np.ndarray
    start: tuple[int, int]
    seed: int

    @property
    def size(self) -> int:
        return int(self.grid.shape[0])

    def tile(self, x: int, y: int) -> Tile:
        """Tile at (x, y); everything outside the grid is Mold."""
        if 0 <= x < self.size and 0 <= y < self.size:
            return Tile(int(self.grid[y, x]))
        return Tile.MOLD

    def rotated(self, quarter_turns: int) -> Maze:
        """This maze turned `quarter_turns` × 90° clockwise: what lay north of a cell lies east of
        it (a cell (x, y) moves to (size − 1 − y, x) per turn). Same seed, start moved along."""
        grid, (x, y) = self.grid, self.start
        for _ in range(quarter_turns % 4):
            grid, (x, y) = np.rot90(grid, -1), (self.size - 1 - y, x)
        grid = np.ascontiguousarray(grid)
        grid.setflags(write=False)
        return Maze(grid=grid, start=(x, y), seed=self.seed)


def carve_steps_range(size: int, config: MazeConfig) -> tuple[int, int]:
    """Inclusive bounds of the carving walk length, e.g. (490, 1470) for size 100."""
    interior = size - 2
    return math.floor(config.carve_low * interior), math.floor(config.carve_high * interior)


def _fold(z: np.ndarray, m: int) -> np.ndarray:
    """Map an unconstrained walk coordinate onto 0..m−1 by reflection.

    Folding a free ±1 walk with period 2m gives, in distribution, the walk on 0..m−1 whose
    moves into a wall leave it in place; it lets the whole walk be one cumsum.
    """
    r = np.mod(z, 2 * m)
    return np.where(r < m, r, 2 * m - 1 - r)


def _carve(grid: np.ndarray, rng: np.random.Generator, config: MazeConfig) -> None:
    m = grid.shape[0] - 2
    x0, y0 = (int(v) for v in rng.integers(0, m, size=2))
    lo, hi = carve_steps_range(grid.shape[0], config)
    n_steps = int(rng.integers(lo, hi, endpoint=True))
    dirs = rng.integers(0, 4, size=n_steps)
    xs = _fold(x0 + np.concatenate(([0], np.cumsum(_DX[dirs]))), m)
    ys = _fold(y0 + np.concatenate(([0], np.cumsum(_DY[dirs]))), m)
    grid[ys + 1, xs + 1] = _PATH


def _fix_density(interior: np.ndarray, rng: np.random.Generator, config: MazeConfig) -> int:
    """Bring the interior Mold fraction into [mold_low, mold_high); return the Mold count."""
    total = interior.size
    flat = interior.reshape(-1)
    mold_cells = np.flatnonzero(flat == _MOLD)
    n_mold = mold_cells.size
    # Largest count with fraction < high, smallest with fraction ≥ low.
    max_mold = math.ceil(config.mold_high * total) - 1
    min_mold = math.ceil(config.mold_low * total)
    if n_mold > max_mold:
        flat[rng.choice(mold_cells, size=n_mold - max_mold, replace=False, shuffle=False)] = _PATH
        return max_mold
    if n_mold < min_mold:
        path_cells = np.flatnonzero(flat == _PATH)
        flat[rng.choice(path_cells, size=min_mold - n_mold, replace=False, shuffle=False)] = _MOLD
        return min_mold
    return n_mold


def gold_count(n_interior_mold: int, n_interior_path: int, config: MazeConfig) -> int:
    """max(1, ⌊gold_ratio·n⌋), capped to leave one Path cell for the start."""
    return max(0, min(max(1, math.floor(config.gold_ratio * n_interior_mold)), n_interior_path - 1))


def _place_gold(
    interior: np.ndarray, n_mold: int, rng: np.random.Generator, config: MazeConfig
) -> None:
    flat = interior.reshape(-1)
    path_cells = np.flatnonzero(flat == _PATH)
    n_gold = gold_count(n_mold, path_cells.size, config)
    flat[rng.choice(path_cells, size=n_gold, replace=False, shuffle=False)] = _GOLD


def nearest_path_to_centre(grid: np.ndarray) -> tuple[int, int]:
    """BFS from the centre (size//2, size//2) over all cells, N/E/S/W order; first Path cell."""
    size = grid.shape[0]
    centre = (size // 2, size // 2)
    seen = {centre}
    queue = deque([centre])
    while queue:
        x, y = queue.popleft()
        if grid[y, x] == _PATH:
            return x, y
        for d in DIRECTIONS:
            nx, ny = x + OFFSETS[d][0], y + OFFSETS[d][1]
            if 0 <= nx < size and 0 <= ny < size and (nx, ny) not in seen:
                seen.add((nx, ny))
                queue.append((nx, ny))
    raise ValueError("maze has no Path cell")


def window_around(grid: np.ndarray, pos: tuple[int, int], radius: int) -> np.ndarray:
    """Tile codes of the (2·radius+1)² window centred on `pos` (x, y), as a new array.

    Outside the grid is Mold. Window cell [radius, radius] is `pos`; local searches (planner,
    extraction walks) run on it because 15 turns never leave it.
    """
    side = 2 * radius + 1
    out = np.full((side, side), Tile.MOLD, dtype=np.int8)
    size = grid.shape[0]
    x0, y0 = pos[0] - radius, pos[1] - radius
    gx0, gy0 = max(0, x0), max(0, y0)
    gx1, gy1 = min(size, x0 + side), min(size, y0 + side)
    if gx0 < gx1 and gy0 < gy1:
        out[gy0 - y0 : gy1 - y0, gx0 - x0 : gx1 - x0] = grid[gy0:gy1, gx0:gx1]
    return out


def generate_maze(seed: int, size: int | None = None, *, config: MazeConfig | None = None) -> Maze:
    """Generate the maze named by `seed` (docs/protocol.md §1.2). `size` defaults to ``config.size``
    (100)."""
    config = config or MazeConfig()
    size = config.size if size is None else int(size)
    if size < 3:
        raise ValueError(f"size must be ≥ 3, got {size}")
    rng = np.random.default_rng(int(seed))
    grid = np.full((size, size), Tile.MOLD, dtype=np.int8)
    _carve(grid, rng, config)
    interior = np.ascontiguousarray(grid[1:-1, 1:-1])  # contiguous, so reshape(-1) is a view
    n_mold = _fix_density(interior, rng, config)
    _place_gold(interior, n_mold, rng, config)
    grid[1:-1, 1:-1] = interior
    start = nearest_path_to_centre(grid)
    grid.flags.writeable = False
    return Maze(grid=grid, start=start, seed=int(seed))
