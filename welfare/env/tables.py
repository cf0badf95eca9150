"""Parquet tables of the env stage (columns per docs/conventions.md), written atomically."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from welfare.env.eval_mazes import EvalMaze
from welfare.env.extraction import Trajectory
from welfare.env.sft import Demonstration
from welfare.io import atomic_path


def write_table(path: str | Path, columns: dict[str, list[Any]], meta: dict[str, str]) -> None:
    """Write `columns` as Parquet with `meta` (provenance) in the schema metadata."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table(columns)
    table = table.replace_schema_metadata({f"welfare.{k}": str(v) for k, v in meta.items()})
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


def extraction_columns(trajectories: Sequence[Trajectory], splits: Sequence[str]) -> dict:
    return {
        "trajectory_id": [t.trajectory_id for t in trajectories],
        "maze_seed": [t.maze_seed for t in trajectories],
        "n_steps": [t.n_steps for t in trajectories],
        "actions": [t.actions for t in trajectories],
        "positions": [[list(p) for p in t.positions] for t in trajectories],
        "final_tile": [t.final_tile for t in trajectories],
        "split": list(splits),
        "render_seed": [t.render_seed for t in trajectories],
    }


def eval_columns(mazes: Sequence[EvalMaze]) -> dict:
    rows = [asdict(m) for m in mazes]
    return {key: [row[key] for row in rows] for key in EvalMaze.__dataclass_fields__}


def sft_columns(demos: Sequence[Demonstration]) -> dict:
    columns: dict[str, list[Any]] = {
        "demo_id": list(range(len(demos))),
        "maze_seed": [d.maze_seed for d in demos],
        "wind_seed": [d.wind_seed for d in demos],
        "render_seeds": [d.render_seeds for d in demos],
        "actions": [d.actions for d in demos],
        "positions": [[list(p) for p in d.positions] for d in demos],
        "winds": [d.winds for d in demos],
        "rewards": [d.rewards for d in demos],
        "total_return": [d.total_return for d in demos],
    }
    return columns
