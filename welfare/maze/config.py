"""`MazeConfig`: the maze section of params.yaml as a typed, frozen value."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from welfare.maze.tiles import Tile

WIND_MODES = ("move_then_push", "override")


@dataclass(frozen=True)
class MazeConfig:
    """Generation, dynamics and rendering parameters (defaults = docs/protocol.md §1 / params.yaml).

    The paper's open questions are fields: `wind_mode` (App. K "move_then_push" vs App. J.4
    "override"), `gold_ratio` (J.1's 0.20 versus the far denser Gold of the example rollout),
    `apostrophe` ("’" as the site renders it, or "'").
    """

    size: int = 100
    turns: int = 15
    carve_low: float = 5.0
    carve_high: float = 15.0
    mold_low: float = 0.10
    mold_high: float = 0.50
    gold_ratio: float = 0.20
    reward_step: float = -0.1
    reward_gold: float = 20.0
    reward_mold: float = -10.0
    wind_probability: float = 0.1
    wind_mode: str = "move_then_push"
    melting: bool = True
    apostrophe: str = "’"
    shuffle_clauses: bool = True

    def __post_init__(self) -> None:
        if self.wind_mode not in WIND_MODES:
            raise ValueError(f"wind_mode must be one of {WIND_MODES}, got {self.wind_mode!r}")
        if self.size < 3:
            raise ValueError(f"size must be ≥ 3 (a border and an interior), got {self.size}")
        if not 0 <= self.mold_low < self.mold_high <= 1:
            raise ValueError(
                f"need 0 ≤ mold_low < mold_high ≤ 1, got {self.mold_low}, {self.mold_high}"
            )
        if not 0 < self.carve_low <= self.carve_high:
            raise ValueError(
                f"need 0 < carve_low ≤ carve_high, got {self.carve_low}, {self.carve_high}"
            )

    @classmethod
    def from_params(cls, maze: Mapping[str, Any]) -> MazeConfig:
        """Build from ``params["maze"]`` (validated, defaults filled; missing keys use defaults)."""
        d = cls()
        carve = maze.get("carve_steps", {})
        mold = maze.get("mold_fraction", {})
        rewards = maze.get("rewards", {})
        wind = maze.get("wind", {})
        return cls(
            size=int(maze.get("size", d.size)),
            turns=int(maze.get("turns", d.turns)),
            carve_low=float(carve.get("low", d.carve_low)),
            carve_high=float(carve.get("high", d.carve_high)),
            mold_low=float(mold.get("low", d.mold_low)),
            mold_high=float(mold.get("high", d.mold_high)),
            gold_ratio=float(maze.get("gold_ratio", d.gold_ratio)),
            reward_step=float(rewards.get("step", d.reward_step)),
            reward_gold=float(rewards.get("gold", d.reward_gold)),
            reward_mold=float(rewards.get("mold", d.reward_mold)),
            wind_probability=float(wind.get("probability", d.wind_probability)),
            wind_mode=str(wind.get("mode", d.wind_mode)),
            melting=bool(maze.get("melting", d.melting)),
            apostrophe=str(maze.get("apostrophe", d.apostrophe)),
            shuffle_clauses=bool(maze.get("shuffle_clauses", d.shuffle_clauses)),
        )

    def tile_reward(self, tile: Tile | int) -> float:
        """Reward for entering `tile`, excluding the per-turn step cost."""
        return (0.0, self.reward_mold, self.reward_gold)[int(tile)]
