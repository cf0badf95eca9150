"""Tiles, directions and tile mappings of the emoji maze (docs/protocol.md §1.1, §1.3).

Coordinates are (x, y) with y growing southwards, as in the paper: N from (50, 49) is (50, 48).
Grids are indexed ``grid[y, x]``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

DIRECTIONS: tuple[str, str, str, str] = ("N", "E", "S", "W")
OFFSETS: dict[str, tuple[int, int]] = {"N": (0, -1), "E": (1, 0), "S": (0, 1), "W": (-1, 0)}
OPPOSITE: dict[str, str] = {"N": "S", "E": "W", "S": "N", "W": "E"}
# Lower-case names for the observation clauses, capitalised ones for the wind sentence.
DIRECTION_WORDS: dict[str, str] = {"N": "north", "E": "east", "S": "south", "W": "west"}


class Tile(IntEnum):
    """Tile codes stored in ``Maze.grid`` (np.int8). The model never sees these names."""

    PATH = 0
    MOLD = 1
    GOLD = 2

    @property
    def label(self) -> str:
        """The string label used in datasets: "path", "mold" or "gold"."""
        return self.name.lower()

    @classmethod
    def from_label(cls, label: str) -> Tile:
        try:
            return cls[label.upper()]
        except KeyError:
            raise ValueError(f"unknown tile label {label!r} (path, mold or gold)") from None


TILE_LABELS: tuple[str, str, str] = ("path", "mold", "gold")  # index = Tile code


def turned(direction: str, quarter_turns: int) -> str:
    """`direction` turned `quarter_turns` × 90° clockwise (N → E), as `Maze.rotated` turns."""
    return DIRECTIONS[(DIRECTIONS.index(direction) + quarter_turns) % 4]


def move(pos: tuple[int, int], direction: str) -> tuple[int, int]:
    """The (x, y) cell one step from `pos` in `direction`."""
    dx, dy = OFFSETS[direction]
    return pos[0] + dx, pos[1] + dy


@dataclass(frozen=True)
class TileMapping:
    """Which symbol (emoji) the model sees for each tile class; named in ``params.mappings``."""

    mold: str
    gold: str
    path: str

    @classmethod
    def from_params(cls, params: Mapping[str, Any], name: str) -> TileMapping:
        """The mapping `name` of the full (validated) params, e.g. ``("office")``."""
        mappings = params["mappings"]
        if name not in mappings:
            raise KeyError(f"unknown tile mapping {name!r} (known: {', '.join(sorted(mappings))})")
        row = mappings[name]
        return cls(mold=row["mold"], gold=row["gold"], path=row["path"])

    def symbol(self, tile: Tile | int) -> str:
        """The symbol shown for `tile`."""
        return (self.path, self.mold, self.gold)[int(tile)]
