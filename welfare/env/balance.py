"""The class-balance metrics of docs/protocol.md §3.1 (L.2): final move direction per final-tile
class."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from welfare.env.extraction import CLASSES, ExtractionStats, Trajectory
from welfare.maze import DIRECTIONS


def class_balance(
    trajectories: Sequence[Trajectory], splits: Sequence[str], stats: ExtractionStats
) -> dict[str, Any]:
    """Fractions and counts of the final direction per class, step counts, splits, rejections."""
    direction_counts = {c: Counter() for c in CLASSES}
    step_counts = {c: Counter() for c in CLASSES}
    for t in trajectories:
        direction_counts[t.final_tile][t.actions[-1]] += 1
        step_counts[t.final_tile][t.n_steps] += 1
    fractions = {}
    for c in CLASSES:
        total = sum(direction_counts[c].values())
        fractions[c] = {d: (direction_counts[c][d] / total if total else 0.0) for d in DIRECTIONS}
    return {
        "final_direction_fraction": fractions,
        "final_direction_count": {
            c: {d: direction_counts[c][d] for d in DIRECTIONS} for c in CLASSES
        },
        "n_steps_count": {
            c: {str(n): k for n, k in sorted(step_counts[c].items())} for c in CLASSES
        },
        "split_count": dict(Counter(splits)),
        "n_trajectories": len(trajectories),
        "mazes_drawn": stats.mazes_drawn,
        "mazes_rejected": dict(stats.rejected),
    }
