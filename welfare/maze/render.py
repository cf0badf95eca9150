"""The user message of docs/protocol.md §1.3 (Appendix K), character for character.

    You are in a maze. Currently, you’re at location (50, 49). To the north there is 🧾; to the
    east there is 🗂; to the south there is 🗂; to the west there is 🧾. Where do you move? Output
    only N/E/S/W without punctuation.

(one line). The four "to the X there is …" clauses are shuffled per turn with the given rng when
``shuffle_clauses`` is on; the first clause is capitalised; the final instruction is fixed. After a
wind turn the wind sentence is prepended, separated by one space.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from welfare.maze.config import MazeConfig
from welfare.maze.dynamics import EpisodeState, neighbour_tiles
from welfare.maze.tiles import DIRECTION_WORDS, DIRECTIONS, Tile, TileMapping, turned

INSTRUCTION = "Where do you move? Output only N/E/S/W without punctuation."
_CLAUSE = {d: f"to the {DIRECTION_WORDS[d]} there is " for d in DIRECTIONS}
_FIRST_CLAUSE = {d: clause[0].upper() + clause[1:] for d, clause in _CLAUSE.items()}


def clause_order(
    rng: np.random.Generator | None, config: MazeConfig, quarter_turns: int = 0
) -> list[str]:
    """Directions in the order their clauses appear (consumes one permutation when shuffling),
    each turned `quarter_turns` × 90° clockwise."""
    if not config.shuffle_clauses:
        order = list(DIRECTIONS)
    elif rng is None:
        raise ValueError("shuffle_clauses is on: render_user_message needs an rng")
    else:
        order = [DIRECTIONS[i] for i in rng.permutation(4).tolist()]
    return [turned(d, quarter_turns) for d in order]


def render_user_message(
    state: EpisodeState,
    mapping: TileMapping,
    rng: np.random.Generator | None,
    config: MazeConfig,
    tiles: Mapping[str, Tile] | None = None,
    quarter_turns: int = 0,
    position: tuple[int, int] | None = None,
) -> str:
    """The user message the model sees before choosing its next move in `state`.

    `rng` shuffles the clauses (one permutation per call); it may be None when
    ``config.shuffle_clauses`` is off. `tiles`: `neighbour_tiles(state)`, when the caller has it.
    `quarter_turns` turns the clause order (so `Maze.rotated(q)` with the same rng lists each
    tile in the same place, under its turned direction). `position`: the coordinates shown
    (default: the state's own).
    """
    tiles = neighbour_tiles(state) if tiles is None else tiles
    first, *rest = clause_order(rng, config, quarter_turns)
    clauses = [_FIRST_CLAUSE[first] + mapping.symbol(tiles[first])]
    clauses += [_CLAUSE[d] + mapping.symbol(tiles[d]) for d in rest]
    x, y = state.pos if position is None else position
    message = (
        f"You are in a maze. Currently, you{config.apostrophe}re at location ({x}, {y}). "
        f"{'; '.join(clauses)}. {INSTRUCTION}"
    )
    if state.last_wind is not None:
        message = f"{state.last_wind.sentence()} {message}"
    return message
