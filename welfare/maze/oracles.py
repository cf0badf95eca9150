"""Reference policies: greedy (one-step lookahead) and an exact optimal planner.

The planner maximises the return of the next `turns_left` turns under the deterministic dynamics
(wind switched off), melting included: a cell the agent leaves is Mold from then on. It is a
depth-first branch and bound over action sequences. The bound is exact dynamic programming on a
relaxation: k-step values of every (cell, arrival direction) computed on the current grid, where
only the cell just left counts as melted. Melting and Gold consumption only ever lower a tile's
reward, so the relaxation never underestimates, and pruning by it keeps the search exact.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from welfare.maze.config import MazeConfig
from welfare.maze.dynamics import EpisodeState, neighbour_tiles, step
from welfare.maze.generate import window_around
from welfare.maze.tiles import DIRECTIONS, OFFSETS, OPPOSITE, Tile

_EPS = 1e-9
_OPP_INDEX = [DIRECTIONS.index(OPPOSITE[d]) for d in DIRECTIONS]


def greedy_action(
    state: EpisodeState, rng: np.random.Generator, config: MazeConfig | None = None
) -> str:
    """The move onto the best adjacent tile (Gold > Path > Mold by reward), ties broken by `rng`."""
    config = config or MazeConfig()
    tiles = neighbour_tiles(state)
    values = np.array([config.tile_reward(tiles[d]) for d in DIRECTIONS])
    best = np.flatnonzero(values >= values.max() - _EPS)
    return DIRECTIONS[int(rng.choice(best))]


def deterministic_config(config: MazeConfig) -> MazeConfig:
    """`config` with wind switched off (the planner's model of the world)."""
    return replace(config, wind_probability=0.0)


def plan_return(state: EpisodeState, actions: list[str], config: MazeConfig) -> float:
    """Return of playing `actions` from `state` without wind (step costs included)."""
    calm = deterministic_config(config)
    calm = replace(calm, turns=max(calm.turns, state.turn + len(actions)))
    rng = np.random.default_rng(0)  # unused by calm dynamics except for the zero-probability draw
    total = 0.0
    for action in actions:
        result = step(state, action, rng, calm)
        total += result.reward
        state = result.state
    return total


def _shift(a: np.ndarray, dx: int, dy: int, fill: float) -> np.ndarray:
    """out[y, x] = a[y + dy, x + dx] (the value one step away), `fill` beyond the edge."""
    out = np.full_like(a, fill)
    h, w = a.shape
    out[max(0, -dy) : h - max(0, dy), max(0, -dx) : w - max(0, dx)] = a[
        max(0, dy) : h - max(0, -dy), max(0, dx) : w - max(0, -dx)
    ]
    return out


def _relaxed_values(values: np.ndarray, depth: int, config: MazeConfig) -> list[np.ndarray]:
    """bounds[k][d, y, x]: upper bound on the reward of k more moves after arriving at (x, y)
    by moving in direction d (so the cell behind is melted Mold)."""
    mold = config.reward_mold
    bounds = [np.zeros((4,) + values.shape)]
    for _ in range(1, depth):
        prev = bounds[-1]
        gain = np.stack(
            [_shift(values + prev[i], *OFFSETS[d], fill=mold) for i, d in enumerate(DIRECTIONS)]
        )
        if config.melting:
            back = np.stack(
                [_shift(mold + prev[i], *OFFSETS[d], fill=mold) for i, d in enumerate(DIRECTIONS)]
            )
        nxt = np.empty_like(prev)
        for arrived in range(4):
            options = gain.copy()
            if config.melting:
                options[_OPP_INDEX[arrived]] = back[_OPP_INDEX[arrived]]
            nxt[arrived] = options.max(axis=0)
        bounds.append(nxt)
    return bounds


def optimal_plan(
    state: EpisodeState,
    config: MazeConfig,
    turns_left: int,
    *,
    rng: np.random.Generator | None = None,
) -> list[str]:
    """An action sequence of length `turns_left` with the highest return without wind.

    Exact. Among equally good plans the first found wins; exploration order is N, E, S, W, or
    shuffled per node by `rng` when given (so demonstrations carry no direction bias).
    """
    if turns_left <= 0:
        return []
    radius = turns_left + 1
    window = window_around(state.grid, state.pos, radius)
    side = window.shape[1]
    reward_of = np.array([config.tile_reward(t) for t in (Tile.PATH, Tile.MOLD, Tile.GOLD)])
    # The search reads single cells millions of times: flat Python lists are far faster to
    # index than numpy arrays. Cell (x, y) of the window is index y·side + x.
    bounds = [
        b.reshape(4, -1).tolist() for b in _relaxed_values(reward_of[window], turns_left, config)
    ]
    tiles = window.reshape(-1).tolist()
    rewards = reward_of.tolist()
    steps = [OFFSETS[d][0] + side * OFFSETS[d][1] for d in DIRECTIONS]
    mold, gold, path = int(Tile.MOLD), int(Tile.GOLD), int(Tile.PATH)
    best_value = -np.inf
    best_plan: list[int] = []
    plan: list[int] = []
    melting = config.melting

    def search(cell: int, remaining: int, acc: float) -> None:
        nonlocal best_value, best_plan
        if remaining == 0:
            if acc > best_value + _EPS:
                best_value, best_plan = acc, list(plan)
            return
        order = rng.permutation(4).tolist() if rng is not None else range(4)
        bound_k = bounds[remaining - 1]
        children = []
        for i in order:
            nxt = cell + steps[i]
            r = rewards[tiles[nxt]]
            children.append((acc + r + bound_k[i][nxt], i, nxt, r))
        children.sort(key=lambda c: -c[0])  # stable: ties keep the (shuffled) order
        for bound, i, nxt, r in children:
            if bound <= best_value + _EPS:
                break
            here, there = tiles[cell], tiles[nxt]
            if melting:
                tiles[cell] = mold
            if there == gold:
                tiles[nxt] = path
            plan.append(i)
            search(nxt, remaining - 1, acc + r)
            plan.pop()
            tiles[nxt] = there
            tiles[cell] = here

    search(radius * side + radius, turns_left, 0.0)
    return [DIRECTIONS[i] for i in best_plan]
