"""Episode dynamics (docs/protocol.md §1.1, §1.5): per-turn rewards, tile melting, wind.

A turn: the agent moves one tile in the chosen direction and receives
``reward_step + reward(tile entered)`` (Gold +20, Mold −10, Path 0, step −0.1). With probability
``wind_probability`` wind fires:

- ``move_then_push`` (App. K, default): after the move the agent is pushed one more tile in a
  uniformly random direction; the second tile's reward is added too (a turn can be +20 then −10).
- ``override`` (App. J.4): the chosen move is replaced by a uniformly random direction; if that
  equals the chosen direction the agent moves two tiles (both rewarded).

Melting: every tile the agent leaves becomes Mold, also when wind moved it. Gold is consumed on
entry (becomes Path under the agent), which only matters with melting off. Outside the grid is
Mold (only reachable on small grids or long episodes). Functions are pure: `step` returns a new
state with its own grid copy.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from welfare.maze.config import MazeConfig
from welfare.maze.generate import Maze
from welfare.maze.tiles import DIRECTIONS, OPPOSITE, Tile, move, turned

DIRECTION_NAMES: dict[str, str] = {"N": "North", "E": "East", "S": "South", "W": "West"}


@dataclass(frozen=True)
class WindEvent:
    """Wind that fired on a turn: the agent was blown towards `push` (from the opposite side)."""

    push: str

    @property
    def source(self) -> str:
        return OPPOSITE[self.push]

    def sentence(self) -> str:
        """E.g. "A strong wind from the East blew you West!" (docs/protocol.md §1.3)."""
        source, push = DIRECTION_NAMES[self.source], DIRECTION_NAMES[self.push]
        return f"A strong wind from the {source} blew you {push}!"


_TILES: tuple[Tile, ...] = tuple(sorted(Tile))  # by code: a lookup, not an enum call per cell


@dataclass(frozen=True, eq=False)
class EpisodeState:
    """One episode in progress: its own grid copy, position (x, y), turns taken, last wind."""

    grid: np.ndarray
    pos: tuple[int, int]
    turn: int = 0
    last_wind: WindEvent | None = None
    total_reward: float = 0.0
    maze_seed: int | None = field(default=None)

    def tile(self, pos: tuple[int, int]) -> Tile:
        x, y = pos
        size = self.grid.shape[0]
        if 0 <= x < size and 0 <= y < size:
            return _TILES[self.grid[y, x]]
        return Tile.MOLD


@dataclass(frozen=True)
class StepResult:
    """What one turn did: the new state, the turn's reward, tiles entered in order, wind if any."""

    state: EpisodeState
    reward: float
    entered: tuple[Tile, ...]
    wind: WindEvent | None


def new_episode(maze: Maze) -> EpisodeState:
    """A fresh episode at the maze's start, with a writable copy of its grid."""
    return EpisodeState(grid=np.array(maze.grid, copy=True), pos=maze.start, maze_seed=maze.seed)


def neighbour_tiles(state: EpisodeState) -> dict[str, Tile]:
    """The tile one step away in each direction (N, E, S, W order)."""
    return {d: state.tile(move(state.pos, d)) for d in DIRECTIONS}


def _enter(grid: np.ndarray, pos: tuple[int, int], target: tuple[int, int], melting: bool) -> Tile:
    """Move from `pos` to `target` on `grid` (mutated): melt the tile left, consume Gold."""
    size = grid.shape[0]
    if melting and 0 <= pos[0] < size and 0 <= pos[1] < size:
        grid[pos[1], pos[0]] = Tile.MOLD
    x, y = target
    if 0 <= x < size and 0 <= y < size:
        tile = _TILES[grid[y, x]]
        if tile == Tile.GOLD:
            grid[y, x] = Tile.PATH
        return tile
    return Tile.MOLD


def draw_wind(
    rng: np.random.Generator, config: MazeConfig, quarter_turns: int = 0
) -> WindEvent | None:
    """One wind draw: always consumes one uniform, plus one integer when wind fires; the push is
    turned `quarter_turns` × 90° clockwise (the same draw in a rotated copy of the maze)."""
    if rng.random() < config.wind_probability:
        return WindEvent(push=turned(DIRECTIONS[int(rng.integers(4))], quarter_turns))
    return None


def step(
    state: EpisodeState,
    action: str,
    rng: np.random.Generator,
    config: MazeConfig,
    quarter_turns: int = 0,
) -> StepResult:
    """Play one turn. `rng` drives only the wind; the same rng stream replays the same winds
    (turned `quarter_turns` × 90° clockwise: in `Maze.rotated(q)`, the same stream and turned moves
    replay the unturned maze's walk, turned)."""
    if action not in DIRECTIONS:
        raise ValueError(f"action must be one of {DIRECTIONS}, got {action!r}")
    if state.turn >= config.turns:
        raise ValueError(f"episode is over: {state.turn} of {config.turns} turns taken")
    wind = draw_wind(rng, config, quarter_turns)
    if wind is None:
        moves = [action]
    elif config.wind_mode == "move_then_push":
        moves = [action, wind.push]
    else:  # override: the wind's direction replaces the move; same direction = two tiles
        moves = [wind.push, wind.push] if wind.push == action else [wind.push]
    grid = np.array(state.grid, copy=True)
    pos = state.pos
    entered: list[Tile] = []
    reward = config.reward_step
    for direction in moves:
        target = move(pos, direction)
        tile = _enter(grid, pos, target, config.melting)
        entered.append(tile)
        reward += config.tile_reward(tile)
        pos = target
    new_state = EpisodeState(
        grid=grid,
        pos=pos,
        turn=state.turn + 1,
        last_wind=wind,
        total_reward=state.total_reward + reward,
        maze_seed=state.maze_seed,
    )
    return StepResult(state=new_state, reward=reward, entered=tuple(entered), wind=wind)
