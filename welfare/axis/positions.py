"""Which token positions the axis stage analyses, and reading one of them from a store.

A store recorded by `welfare activations` has a `position` dim of named positions ("letter":
token −1, docs/protocol.md §3.1; "decision": the template token before it). A store without that dim
(older stores, benchmarks) holds the letter alone. The axis stage runs its whole analysis at each of
`axis.positions`; the vectors of `axis.steer_position` are the ones steering and tracking read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from welfare.activations.store import open_activations

LETTER = "letter"


@dataclass(frozen=True)
class AxisPositions:
    """`axis.positions` and `axis.steer_position`, checked against each other."""

    positions: tuple[str, ...] = (LETTER,)
    steer: str = LETTER

    def __post_init__(self) -> None:
        if not self.positions or len(set(self.positions)) != len(self.positions):
            raise ValueError(f"axis.positions: expected distinct names, got {list(self.positions)}")
        if self.steer not in self.positions:
            raise ValueError(
                f"axis.steer_position: expected one of axis.positions {list(self.positions)}, "
                f"got {self.steer!r}"
            )

    @classmethod
    def from_params(cls, axis: Mapping[str, Any]) -> AxisPositions:
        return cls(tuple(axis["positions"]), str(axis["steer_position"]))


def store_positions(ds: Any) -> list[str]:
    """The named positions a store holds (["letter"] for a store without a `position` dim)."""
    if "position" not in ds["activations"].dims:
        return [LETTER]
    return [str(p) for p in ds["position"].values]


def position_activations(ds: Any, position: str, source: str | Path = "store") -> Any:
    """The (sample, layer, d_model) activations of one named position (lazy, dask-backed)."""
    acts = ds["activations"]
    held = store_positions(ds)
    if position not in held:
        raise ValueError(f"{source}: no position {position!r} recorded (it holds {held})")
    return acts if "position" not in acts.dims else acts.sel(position=position)


def check_store_positions(stores: Mapping[str, str | Path], positions: AxisPositions) -> None:
    """Fail before any work if a store lacks one of the requested positions (the stores are
    verified by the caller)."""
    for path in stores.values():
        held = store_positions(open_activations(path, verify=False))
        missing = [p for p in positions.positions if p not in held]
        if missing:
            raise ValueError(
                f"{path}: axis.positions asks for {missing}, the store holds {held} "
                "(record them with activations.positions)"
            )
