"""Seeds derived from a maze seed, one independent stream per purpose.

`np.random.SeedSequence((maze_seed, purpose))` gives unrelated, platform-independent streams, so
the walk, the clause shuffles, the wind and the planner's tie-breaks never share random numbers.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np


class Stream(IntEnum):
    WALK = 1
    RENDER = 2
    WIND = 3
    PLAN = 4
    GREEDY = 5
    SPLIT = 6


def derived_seed(maze_seed: int, stream: Stream, index: int = 0) -> int:
    """A 32-bit seed for `stream` (and `index`, e.g. a turn) of the maze `maze_seed`."""
    sequence = np.random.SeedSequence((int(maze_seed), int(stream), int(index)))
    return int(sequence.generate_state(1)[0])


def derived_rng(maze_seed: int, stream: Stream, index: int = 0) -> np.random.Generator:
    return np.random.default_rng(derived_seed(maze_seed, stream, index))
