"""A batch of maze episodes played in lockstep: the environment side of a rollout.

Episodes of one group share a maze (fresh per training step, seeded), each with its own copy of
the grid and its own numpy stream for wind and clause shuffling, so an episode's observations
depend only on its seed and its own actions (the cached and re-encoding rollouts see the same
mazes). With `shared_moves`, the rotated copies of a maze (`rotations` > 1) are not played
independently: copy k of episode e replays copy 0's moves turned by its quarter turns, with copy
0's wind and clause-order draws, turned too, so every state it visits is copy 0's state turned
(`follow_leads`). A copy shows its lead's coordinates, so its message is its lead's with only
the direction names turned: a minimal pair, on which a policy blind to the tiles gives every
copy the same distribution and the all-action gradient of its letter prior cancels exactly
(with their own coordinates, it does not: bench/smollm2.md). Every turn records the neighbour
tiles *before* the move (the entropy bonus's classes), the reward and the tiles entered.
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
    # Mazes come in blocks of `rotations` turned copies (`fresh`); with `shared_moves` the copies
    # replay their block's first copy, turned.
    rotations: int = 1
    shared_moves: bool = False
    leads: list[int] = field(init=False)  # the episode whose moves each one replays (itself)
    quarter_turns: list[int] = field(init=False)  # its turn from its lead (0 unless shared)
    states: list[EpisodeState] = field(init=False)
    rngs: list[np.random.Generator] = field(init=False)
    rewards: list[list[float]] = field(init=False)
    neighbours: list[list[list[int]]] = field(init=False)  # [episode][turn] -> N, E, S, W tiles
    messages: list[list[str]] = field(init=False)  # [episode][turn] -> the user message shown
    entered: list[list[Tile]] = field(init=False)  # every tile entered, wind pushes included
    winds: list[int] = field(init=False)

    def __post_init__(self) -> None:
        n, g, r = len(self.mazes) * self.group_size, self.group_size, self.rotations
        if len(self.mazes) % r:
            raise ValueError(f"{len(self.mazes)} mazes do not come in blocks of {r} rotations")
        copy = [(i // g) % r if self.shared_moves else 0 for i in range(n)]
        self.leads = [i - copy[i] * g for i in range(n)]
        self.quarter_turns = [k * 4 // r for k in copy]
        self.states = [new_episode(self.mazes[i // g]) for i in range(n)]
        # A copy's stream is its lead's: the same draws, turned where they name a direction.
        self.rngs = [np.random.default_rng([self.stream_seed, lead]) for lead in self.leads]
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
        shared_moves: bool = False,
    ) -> EpisodeBatch:
        """Fresh mazes from seeds; with `rotations` r, each maze in r turns of 360°/r (r ∈ 1, 2,
        4), one after the other, so the batch holds len(maze_seeds) · r mazes (`shared_moves`:
        the turned copies replay the first one's moves, turned)."""
        mazes = [generate_maze(int(s), config.size, config=config) for s in maze_seeds]
        mazes = [m.rotated(k * 4 // rotations) for m in mazes for k in range(rotations)]
        return cls(mazes, group_size, config, mapping, stream_seed, rotations, shared_moves)

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
            rng, turns = self.rngs[i], self.quarter_turns[i]
            shown = self.states[self.leads[i]].pos  # a copy shows its lead's coordinates
            messages.append(
                render_user_message(state, self.mapping, rng, self.config, tiles, turns, shown)
            )
            self.messages[i].append(messages[-1])
        return messages

    def follow_leads(self, actions: Sequence[int], rows: Sequence[int] | None = None) -> list[int]:
        """`actions` (of every episode, or of `rows`) with each copy's replaced by its lead's,
        turned: what `act` must then be given when moves are shared. The identity otherwise."""
        rows = list(range(len(self.states)) if rows is None else rows)
        chosen = dict(zip(rows, (int(a) for a in actions), strict=True))
        missing = [self.leads[i] for i in rows if self.leads[i] not in chosen]
        if missing:
            raise ValueError(f"episodes {rows[0]}..{rows[-1]} lack their leads {missing[:4]}")
        return [(chosen[self.leads[i]] + self.quarter_turns[i]) % 4 for i in rows]

    def act(self, actions: Sequence[int], rows: Sequence[int] | None = None) -> None:
        """Move every episode, or those of `rows` (action = index into N, E, S, W)."""
        for i, action in zip(
            range(len(self.states)) if rows is None else rows, actions, strict=True
        ):
            direction, turns = DIRECTIONS[int(action)], self.quarter_turns[i]
            result = step(self.states[i], direction, self.rngs[i], self.config, turns)
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
