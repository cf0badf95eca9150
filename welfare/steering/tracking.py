"""Goal-achievement tracking (docs/protocol.md §4.11): does the axis read out success and failure?

Maze goals: fresh Mold-final and Gold-final trajectories, block output at the final direction
letter at ℓ*, scalar projection on v (h·v/‖v‖), in SDs from the mean over both classes;
Cohen's d of the concept's own class against the other (positive: the vector points at its
class). Correctness goals: after "That’s right" / "That’s wrong" (whichever is true), the mean
projection over every token of the final assistant template; d of correct against incorrect,
overall and within tertiles of P(True) (the confidence control).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, NotRequired, TypedDict

import numpy as np

from welfare.activations.record import capture_width, record_chats
from welfare.activations.render import render_chat
from welfare.steering.stats import cohens_d, standardize


class MazeCell(TypedDict):
    """One vector's maze-goal tracking (track.json `{model}.maze.{vector}`); projections in SDs
    from the mean over both classes."""

    layer: int
    d: float | None  # Cohen's d of the vector's own class against the other
    mean_sd_mold: float | None
    mean_sd_gold: float | None
    n_mold: int
    n_gold: int
    projection_sd: dict[str, list[float]]  # mold, gold: every trajectory's projection


class Tertile(TypedDict):
    tertile: int  # 0, 1, 2
    p_true_range: list[float]
    d: float | None
    n_correct: int
    n_incorrect: int


class CorrectnessCell(TypedDict):
    """One vector's correctness tracking (track.json `{model}.correctness.{vector}`)."""

    layer: int
    d: float | None  # correct against incorrect
    mean_sd_correct: float | None
    mean_sd_incorrect: float | None
    n_correct: int
    n_incorrect: int
    tertiles: NotRequired[list[Tertile]]  # within P(True) tertiles (track.correctness.tertiles)


def block_activations(
    model: Any,
    tokenizer: Any,
    chats: Sequence[Sequence[Mapping[str, str]]],
    layers: Sequence[int],
    position: str | Sequence[str],
    batch_size: int = 32,
) -> np.ndarray:
    """Block outputs (n, P, len(sorted layers), d) via the activations stage's recorder; NaN
    where a chat's template is shorter than P. `position`: "last", "assistant_template", or
    named positions ("letter", "decision"; P = one per name)."""
    rendered = [render_chat(tokenizer, list(m)) for m in chats]
    order = sorted(range(len(rendered)), key=lambda i: rendered[i].n_tokens)
    ordered = [rendered[i] for i in order]
    width = capture_width(ordered, position)  # type: ignore[arg-type]
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    out: np.ndarray | None = None
    for batch in record_chats(
        model,
        ordered,
        position=position,
        pad_id=pad_id,
        max_batch_size=batch_size,  # type: ignore[arg-type]
        layers=list(layers),
    ):
        acts = batch.activations
        if out is None:
            out = np.full((len(chats), width, *acts.shape[2:]), np.nan, dtype=np.float32)
        for j in range(acts.shape[0]):
            out[order[batch.start + j], : acts.shape[1]] = acts[j]
    assert out is not None
    return out


def scalar_projection(activations: np.ndarray, vector: np.ndarray) -> np.ndarray:
    """h·v/‖v‖ along the last axis."""
    vector = np.asarray(vector, dtype=np.float64)
    return activations.astype(np.float64) @ (vector / np.linalg.norm(vector))


def separation(projection: np.ndarray, positive: np.ndarray) -> dict[str, Any]:
    """d of the positive group against the rest, and both groups' means in SDs (over all)."""
    positive = np.asarray(positive, dtype=bool)
    sd = standardize(projection)
    return {
        "d": cohens_d(projection[positive], projection[~positive]),
        "mean_sd_positive": float(sd[positive].mean()) if positive.any() else math.nan,
        "mean_sd_negative": float(sd[~positive].mean()) if (~positive).any() else math.nan,
        "n_positive": int(positive.sum()),
        "n_negative": int((~positive).sum()),
    }


def maze_goal_tracking(
    activations: np.ndarray,
    final_tiles: Sequence[str],
    vectors: Mapping[str, tuple[int, np.ndarray]],
    layers: Sequence[int],
) -> dict[str, MazeCell]:
    """vectors: name → (layer, vector); activations (n, 1, len(layers), d) at the last token."""
    tiles = np.asarray(final_tiles)
    column = {layer: i for i, layer in enumerate(sorted(set(layers)))}
    out = {}
    for name, (layer, vector) in vectors.items():
        concept = name.split("_", 1)[1]
        other = "gold" if concept == "mold" else "mold"
        projection = scalar_projection(activations[:, 0, column[layer]], vector)
        summary = separation(projection, tiles == concept)
        sd = standardize(projection)
        out[name] = {
            "layer": layer,
            "d": summary["d"],
            f"mean_sd_{concept}": summary["mean_sd_positive"],
            f"mean_sd_{other}": summary["mean_sd_negative"],
            f"n_{concept}": summary["n_positive"],
            f"n_{other}": summary["n_negative"],
            "projection_sd": {
                concept: sd[tiles == concept].round(4).tolist(),
                other: sd[tiles == other].round(4).tolist(),
            },
        }
    return out


def tertile_edges(values: np.ndarray) -> np.ndarray:
    return np.quantile(values, [0, 1 / 3, 2 / 3, 1])


def correctness_tracking(
    activations: np.ndarray,
    correct: Sequence[bool],
    p_true: np.ndarray | None,
    vectors: Mapping[str, tuple[int, np.ndarray]],
    layers: Sequence[int],
) -> dict[str, CorrectnessCell]:
    """activations (n, P, len(layers), d) over the final template (NaN-padded)."""
    correct = np.asarray(correct, dtype=bool)
    column = {layer: i for i, layer in enumerate(sorted(set(layers)))}
    out = {}
    for name, (layer, vector) in vectors.items():
        per_token = scalar_projection(activations[:, :, column[layer]], vector)  # (n, P)
        projection = np.nanmean(per_token, axis=1)
        summary = separation(projection, correct)
        entry: dict[str, Any] = {
            "layer": layer,
            "d": summary["d"],
            "mean_sd_correct": summary["mean_sd_positive"],
            "mean_sd_incorrect": summary["mean_sd_negative"],
            "n_correct": summary["n_positive"],
            "n_incorrect": summary["n_negative"],
        }
        if p_true is not None:
            edges = tertile_edges(p_true)
            bins = np.clip(np.searchsorted(edges[1:-1], p_true, side="right"), 0, 2)
            entry["tertiles"] = [
                {
                    "tertile": t,
                    "p_true_range": [float(edges[t]), float(edges[t + 1])],
                    "d": cohens_d(
                        projection[(bins == t) & correct], projection[(bins == t) & ~correct]
                    ),
                    "n_correct": int(((bins == t) & correct).sum()),
                    "n_incorrect": int(((bins == t) & ~correct).sum()),
                }
                for t in range(3)
            ]
        out[name] = entry
    return out
