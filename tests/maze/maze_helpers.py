"""Helpers shared by maze and env tests: hand-made states and a scripted wind source."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from welfare.maze import EpisodeState, Tile


class ScriptedWind:
    """Stands in for np.random.Generator in `step`: wind fires on the scripted turns only.

    `pushes[t]` is the direction wind pushes on turn t, or None for a calm turn.
    """

    def __init__(self, pushes: Sequence[str | None]) -> None:
        self._pushes = list(pushes)
        self._pending: str | None = None

    def random(self) -> float:
        self._pending = self._pushes.pop(0)
        return 0.0 if self._pending is not None else 0.99

    def integers(self, high: int) -> int:
        assert high == 4
        return "NESW".index(self._pending)


def make_state(tiles: dict[tuple[int, int], Tile], pos: tuple[int, int], size: int = 12):
    """A state on an all-Path grid (Mold border) with `tiles` placed at (x, y)."""
    grid = np.full((size, size), Tile.PATH, dtype=np.int8)
    grid[0, :] = grid[-1, :] = grid[:, 0] = grid[:, -1] = Tile.MOLD
    for (x, y), tile in tiles.items():
        grid[y, x] = tile
    return EpisodeState(grid=grid, pos=pos)
