"""The emoji maze of docs/protocol.md §1: generation, dynamics, rendering, oracles.

Public API (other stages import from here)::

    DIRECTIONS, OFFSETS, Tile, TileMapping, MazeConfig
    generate_maze(seed, size=None, *, config=None) -> Maze        # grid[y, x] np.int8, start (x, y)
    new_episode(maze) -> EpisodeState
    step(state, action, rng, config) -> StepResult                 # .state .reward .entered .wind
    neighbour_tiles(state) -> dict[str, Tile]
    render_user_message(state, mapping, rng, config) -> str
    greedy_action(state, rng) -> str
    optimal_plan(state, config, turns_left, *, rng=None) -> list[str]
"""

from welfare.maze.config import MazeConfig
from welfare.maze.dynamics import (
    EpisodeState,
    StepResult,
    WindEvent,
    neighbour_tiles,
    new_episode,
    step,
)
from welfare.maze.generate import Maze, generate_maze
from welfare.maze.oracles import greedy_action, optimal_plan, plan_return
from welfare.maze.render import render_user_message
from welfare.maze.tiles import DIRECTIONS, OFFSETS, OPPOSITE, Tile, TileMapping, move

__all__ = [
    "DIRECTIONS",
    "OFFSETS",
    "OPPOSITE",
    "EpisodeState",
    "Maze",
    "MazeConfig",
    "StepResult",
    "Tile",
    "TileMapping",
    "WindEvent",
    "generate_maze",
    "greedy_action",
    "move",
    "neighbour_tiles",
    "new_episode",
    "optimal_plan",
    "plan_return",
    "render_user_message",
    "step",
]
