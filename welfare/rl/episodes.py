"""A batch of maze episodes played in lockstep: the environment side of a rollout.

Episodes of one group share a maze (fresh per training step, seeded), each with its own copy of
the grid and its own numpy stream for wind and clause shuffling, so an episode's observations
depend only on its seed and its own actions (the cached and re-encoding rollouts see the same
mazes). Every turn records the neighbour tiles *before* the move (the entropy bonus's classes),
the reward and the tiles entered.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from welfare.maze.config import MazeConfig
from welfare.maze.dynamics import EpisodeState, neighbour_tiles, new_episode, step
from welfare.maze.generate import Maze, generate_maze
from welfare.maze.render import render_user_message
from welfare.maze.tiles import DIRECTIONS, Tile, TileMapping


@dataclass
class EpisodeBatch:
    """`len(mazes) × group_size` episodes; episode i plays maze i // group_size."""

    mazes: Sequence[Maze]
    group_size: int
    config: MazeConfig
    mapping: TileMapping
    stream_seed: int  # seeds every episode's wind / shuffle stream
    states: list[EpisodeState] = field(init=False)
    rngs: list[np.random.Generator] = field(init=False)
    rewards: list[list[float]] = field(init=False)
    neighbours: list[list[list[int]]] = field(init=False)  # [episode][turn] -> N, E, S, W tiles
    messages: list[list[str]] = field(init=False)  # [episode][turn] -> the user message shown
    entered: list[list[Tile]] = field(init=False)  # every tile entered, wind pushes included
    winds: list[int] = field(init=False)

    def __post_init__(self) -> None:
        n = len(self.mazes) * self.group_size
        self.states = [new_episode(self.mazes[i // self.group_size]) for i in range(n)]
        self.rngs = [np.random.default_rng([self.stream_seed, i]) for i in range(n)]
        self.rewards = [[] for _ in range(n)]
        self.neighbours = [[] for _ in range(n)]
        self.messages = [[] for _ in range(n)]
        self.entered = [[] for _ in range(n)]
        self.winds = [0] * n

    @classmethod
    def fresh(
        cls,
        maze_seeds: Sequence[int],
        group_size: int,
        config: MazeConfig,
        mapping: TileMapping,
        stream_seed: int,
        rotations: int = 1,
    ) -> EpisodeBatch:
        """Fresh mazes from seeds; with `rotations` r, each maze in r turns of 360°/r (r ∈ 1, 2,
        4), one after the other, so the batch holds len(maze_seeds) · r mazes."""
        mazes = [generate_maze(int(s), config.size, config=config) for s in maze_seeds]
        mazes = [m.rotated(k * 4 // rotations) for m in mazes for k in range(rotations)]
        return cls(mazes, group_size, config, mapping, stream_seed)

    def __len__(self) -> int:
        return len(self.states)

    @property
    def turns(self) -> int:
        return self.config.turns

    def user_messages(self, rows: Sequence[int] | None = None) -> list[str]:
        """Observe: each episode's next user message (of `rows` only, when given); records the
        neighbour tiles."""
        messages = []
        for i in range(len(self.states)) if rows is None else rows:
            state = self.states[i]
            tiles = neighbour_tiles(state)
            self.neighbours[i].append([int(tiles[d]) for d in DIRECTIONS])
            rng = self.rngs[i]
            messages.append(render_user_message(state, self.mapping, rng, self.config, tiles))
            self.messages[i].append(messages[-1])
        return messages

    def act(self, actions: Sequence[int], rows: Sequence[int] | None = None) -> None:
        """Move every episode, or those of `rows` (action = index into N, E, S, W)."""
        for i, action in zip(
            range(len(self.states)) if rows is None else rows, actions, strict=True
        ):
            result = step(self.states[i], DIRECTIONS[int(action)], self.rngs[i], self.config)
            self.states[i] = result.state
            self.rewards[i].append(result.reward)
            self.entered[i].extend(result.entered)
            self.winds[i] += result.wind is not None

    def returns(self) -> np.ndarray:
        return np.array([sum(r) for r in self.rewards])

    def tile_counts(self) -> dict[str, np.ndarray]:
        """Per episode, how many Gold / Mold / Path tiles were entered."""
        return {
            tile.label: np.array([sum(t == tile for t in entered) for entered in self.entered])
            for tile in Tile
        }
