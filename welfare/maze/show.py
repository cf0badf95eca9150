"""Text pictures of a maze for people: a window of emoji around a position."""

from __future__ import annotations

import numpy as np

from welfare.maze.generate import window_around
from welfare.maze.tiles import Tile, TileMapping

AGENT = "🙂"


def window_picture(
    grid: np.ndarray, pos: tuple[int, int], mapping: TileMapping, radius: int = 7
) -> str:
    """Rows of symbols around `pos` (x, y), the agent drawn as 🙂, with x/y rulers."""
    tiles = window_around(grid, pos, radius)
    x0, y0 = pos[0] - radius, pos[1] - radius
    side = 2 * radius + 1
    header = "      " + " ".join(f"{(x0 + i) % 100:02d}" for i in range(side))
    lines = [header]
    for j in range(side):
        cells = [
            AGENT if (i, j) == (radius, radius) else mapping.symbol(Tile(int(tiles[j, i])))
            for i in range(side)
        ]
        lines.append(f"{y0 + j:4d}  " + " ".join(cells))
    return "\n".join(lines)
