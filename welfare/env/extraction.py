"""Extraction trajectories of docs/protocol.md §3.1, sampled valid by construction.

A trajectory of class c (mold / gold / path) and length n starts at the maze start, takes n−1
steps each chosen uniformly among the adjacent Path tiles, then a final step onto a tile of class
c (chosen uniformly among the adjacent tiles of that class). Melting applies, as in training: the
tile left becomes Mold, so the walk never revisits a cell and stepping back is a Mold move.

Valid by construction: the walk is a randomised depth-first search whose children are tried in a
uniformly random order and which backtracks from dead ends. The first child with a completion is
taken, so each step is uniform among the adjacent Path tiles from which the class can still be
reached in the remaining steps. Gold walks are also pruned by breadth-first distance to a Gold
neighbour (a lower bound under melting). If no walk exists the maze is rejected and the next
seed is drawn, as the paper does; nothing else is rejected.

Trajectory t has class ("mold", "gold", "path")[t % 3] and n = 1 + (t // 3) mod max_steps, so each
class is spread evenly over step counts. Each trajectory uses its own maze; seeds count up from
`seed_base`, rejected mazes included.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from welfare.env.seeds import Stream, derived_rng, derived_seed
from welfare.maze import DIRECTIONS, OFFSETS, MazeConfig, Tile, generate_maze
from welfare.maze.generate import window_around

log = logging.getLogger(__name__)

CLASSES: tuple[str, str, str] = ("mold", "gold", "path")
# Walks that need more search nodes than this are treated as "no walk" (never hit in practice;
# it bounds the cost of a pathological maze).
MAX_SEARCH_NODES = 200_000
_OFFSETS = [OFFSETS[d] for d in DIRECTIONS]
# Plain ints in the hot loop: IntEnum attribute access costs more than the search itself.
_PATH, _MOLD = int(Tile.PATH), int(Tile.MOLD)


@dataclass(frozen=True)
class Trajectory:
    """One extraction trajectory: replayable from (maze_seed, actions)."""

    trajectory_id: int
    maze_seed: int
    n_steps: int
    actions: list[str]
    positions: list[tuple[int, int]]  # (x, y) after each step
    final_tile: str
    render_seed: int


@dataclass(frozen=True)
class ExtractionSpec:
    per_class: int = 5000
    seed_base: int = 474747
    max_steps: int = 15
    heldout_fraction: float = 0.2

    @classmethod
    def from_params(cls, env: dict) -> ExtractionSpec:
        e = env.get("extraction", {})
        d = cls()
        return cls(
            per_class=int(e.get("per_class", d.per_class)),
            seed_base=int(e.get("seed_base", d.seed_base)),
            max_steps=int(e.get("max_steps", d.max_steps)),
            heldout_fraction=float(e.get("heldout_fraction", d.heldout_fraction)),
        )

    @property
    def n_trajectories(self) -> int:
        return 3 * self.per_class

    def target(self, trajectory_id: int) -> tuple[str, int]:
        """(final tile class, step count) of trajectory `trajectory_id`."""
        return CLASSES[trajectory_id % 3], 1 + (trajectory_id // 3) % self.max_steps


def _distance_to_gold_neighbour(tiles: np.ndarray, max_dist: int) -> np.ndarray:
    """BFS distance over Path to the nearest Path cell beside Gold (int32 max beyond max_dist)."""
    path = tiles == Tile.PATH
    gold = tiles == Tile.GOLD
    near_gold = np.zeros_like(gold)
    near_gold[1:, :] |= gold[:-1, :]
    near_gold[:-1, :] |= gold[1:, :]
    near_gold[:, 1:] |= gold[:, :-1]
    near_gold[:, :-1] |= gold[:, 1:]
    reached = near_gold & path
    dist = np.full(tiles.shape, np.iinfo(np.int32).max, dtype=np.int32)
    dist[reached] = 0
    for d in range(1, max_dist + 1):
        grow = reached.copy()
        grow[1:, :] |= reached[:-1, :]
        grow[:-1, :] |= reached[1:, :]
        grow[:, 1:] |= reached[:, :-1]
        grow[:, :-1] |= reached[:, 1:]
        grow &= path
        new = grow & ~reached
        if not new.any():
            break
        dist[new] = d
        reached = grow
    return dist


class _NoWalk(Exception):
    """The search budget ran out."""


def sample_walk(
    tiles: np.ndarray,
    start: tuple[int, int],
    n_steps: int,
    final_class: Tile,
    rng: np.random.Generator,
    melting: bool = True,
) -> list[int] | None:
    """Direction indices of a valid walk on the local `tiles` (mutated during, restored after).

    `start` is (x, y) in `tiles`, which must extend at least n_steps + 1 cells around it.
    Returns None if no valid walk exists.
    """
    path_steps = n_steps - 1
    dist = None
    if final_class == Tile.GOLD:
        dist = _distance_to_gold_neighbour(tiles, path_steps)
        if dist[start[1], start[0]] > path_steps:
            return None  # no Gold within reach: the paper's immediate rejection
    nodes = 0
    walk: list[int] = []
    final_code = int(final_class)

    def search(x: int, y: int, remaining: int) -> bool:
        nonlocal nodes
        nodes += 1
        if nodes > MAX_SEARCH_NODES:
            raise _NoWalk
        here = tiles[y, x]
        if melting:
            tiles[y, x] = _MOLD  # the tile left melts (the agent is about to leave it)
        try:
            if remaining == 0:
                finals = [
                    i for i, (dx, dy) in enumerate(_OFFSETS) if tiles[y + dy, x + dx] == final_code
                ]
                if not finals:
                    return False
                walk.append(finals[int(rng.integers(len(finals)))])
                return True
            for i in rng.permutation(4):
                dx, dy = _OFFSETS[i]
                nx, ny = x + dx, y + dy
                if tiles[ny, nx] != _PATH:
                    continue
                if dist is not None and dist[ny, nx] > remaining - 1:
                    continue
                walk.append(int(i))
                if search(nx, ny, remaining - 1):
                    return True
                walk.pop()
            return False
        finally:
            tiles[y, x] = here

    try:
        found = search(start[0], start[1], path_steps)
    except _NoWalk:
        log.warning("walk search exceeded %d nodes; maze rejected", MAX_SEARCH_NODES)
        return None
    return walk if found else None


def positions_of(start: tuple[int, int], directions: list[int]) -> list[tuple[int, int]]:
    out = []
    x, y = start
    for i in directions:
        x, y = x + _OFFSETS[i][0], y + _OFFSETS[i][1]
        out.append((x, y))
    return out


@dataclass
class ExtractionStats:
    mazes_drawn: int = 0
    rejected: dict[str, int] | None = None

    def __post_init__(self) -> None:
        if self.rejected is None:
            self.rejected = {c: 0 for c in CLASSES}


def iter_trajectories(
    spec: ExtractionSpec, config: MazeConfig, stats: ExtractionStats | None = None
) -> Iterator[Trajectory]:
    """Yield the extraction trajectories in trajectory_id order (deterministic)."""
    stats = stats if stats is not None else ExtractionStats()
    seed = spec.seed_base
    for trajectory_id in range(spec.n_trajectories):
        label, n_steps = spec.target(trajectory_id)
        while True:
            maze = generate_maze(seed, config=config)
            stats.mazes_drawn += 1
            radius = n_steps + 1
            tiles = window_around(maze.grid, maze.start, radius)
            walk = sample_walk(
                tiles, (radius, radius), n_steps, Tile.from_label(label),
                derived_rng(seed, Stream.WALK), melting=config.melting,
            )  # fmt: skip
            if walk is not None:
                break
            stats.rejected[label] += 1
            seed += 1
        yield Trajectory(
            trajectory_id=trajectory_id,
            maze_seed=seed,
            n_steps=n_steps,
            actions=[DIRECTIONS[i] for i in walk],
            positions=positions_of(maze.start, walk),
            final_tile=label,
            render_seed=derived_seed(seed, Stream.RENDER),
        )
        seed += 1


def assign_splits(trajectories: list[Trajectory], heldout_fraction: float, seed: int) -> list[str]:
    """ "train"/"heldout" per trajectory, seeded, stratified by class then by step count.

    Each class holds out round(fraction · class size) trajectories; they are shared among its
    step counts by largest remainder (ties at random), then drawn at random within each count.
    """
    rng = np.random.default_rng(derived_seed(seed, Stream.SPLIT))
    splits = ["train"] * len(trajectories)
    for label in CLASSES:
        groups: dict[int, list[int]] = {}
        for index, t in enumerate(trajectories):
            if t.final_tile == label:
                groups.setdefault(t.n_steps, []).append(index)
        if not groups:
            continue
        keys = sorted(groups)
        exact = np.array([heldout_fraction * len(groups[k]) for k in keys])
        quota = np.floor(exact).astype(int)
        total = round(heldout_fraction * sum(len(g) for g in groups.values()))
        order = np.lexsort((rng.random(len(keys)), -(exact - quota)))  # largest remainder first
        quota[order[: total - int(quota.sum())]] += 1
        for key, n_heldout in zip(keys, quota, strict=True):
            for index in rng.permutation(groups[key])[:n_heldout]:
                splits[int(index)] = "heldout"
    return splits
