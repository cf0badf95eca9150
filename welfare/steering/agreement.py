"""Agreement of the rule-based scorers with the LLM judge (the paper's Appendix E statistics)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from welfare.steering.scorers import REFUSALS


def _pairs(a: Sequence[Any], b: Sequence[Any]) -> tuple[list, list]:
    kept = [(x, y) for x, y in zip(a, b, strict=True) if x is not None and y is not None]
    return [x for x, _ in kept], [y for _, y in kept]


def cohens_kappa(a: Sequence[Any], b: Sequence[Any], weights: str | None = None) -> float:
    """Cohen's κ of two raters; `weights="linear"` for ordinal integer labels."""
    labels = sorted(set(a) | set(b))
    if len(labels) < 2 or not a:
        return math.nan
    index = {label: i for i, label in enumerate(labels)}
    k = len(labels)
    confusion = np.zeros((k, k))
    for x, y in zip(a, b, strict=True):
        confusion[index[x], index[y]] += 1
    confusion /= confusion.sum()
    expected = np.outer(confusion.sum(1), confusion.sum(0))
    if weights == "linear":
        values = np.array(labels, dtype=float)
        w = np.abs(values[:, None] - values[None, :]) / (values.max() - values.min())
    else:
        w = 1.0 - np.eye(k)
    denominator = float((w * expected).sum())
    return math.nan if denominator == 0 else 1.0 - float((w * confusion).sum()) / denominator


def categorical_agreement(rule: Sequence[Any], judge: Sequence[Any]) -> dict[str, float | int]:
    a, b = _pairs(rule, judge)
    if not a:
        return {"n": 0, "agreement": math.nan, "kappa": math.nan}
    agree = float(np.mean([x == y for x, y in zip(a, b, strict=True)]))
    return {"n": len(a), "agreement": agree, "kappa": cohens_kappa(a, b)}


def sentiment_agreement(rule: Sequence[float | None], judge: Sequence[int | None]) -> dict:
    """Rule scores (rounded to integers) against judge scores: exact, within ±1, linear-weighted
    κ, Pearson r, MAE (docs/protocol.md §4.10's columns)."""
    a, b = _pairs(rule, judge)
    if not a:
        return {"n": 0}
    x = np.rint(np.asarray(a, dtype=float)).astype(int)
    y = np.asarray(b, dtype=int)
    r = float(np.corrcoef(x, y)[0, 1]) if x.std() > 0 and y.std() > 0 else math.nan
    return {
        "n": int(x.size),
        "exact": float(np.mean(x == y)),
        "within_1": float(np.mean(np.abs(x - y) <= 1)),
        "kappa_linear": cohens_kappa(x.tolist(), y.tolist(), weights="linear"),
        "pearson_r": r,
        "mae": float(np.mean(np.abs(np.asarray(a, dtype=float) - y))),
    }


def refusal_agreement(rule: Sequence[str | None], judge: Sequence[str | None]) -> dict:
    """Binary (refusal vs not) agreement and κ, plus the 4-class agreement."""
    a, b = _pairs(rule, judge)
    binary = categorical_agreement([x in REFUSALS for x in a], [y in REFUSALS for y in b])
    return {"binary": binary, "four_class": categorical_agreement(a, b)}


def record_agreement(records: Sequence[dict]) -> dict[str, dict]:
    """Rule-based scorer vs judge over every judged text record, per task."""
    out: dict[str, dict] = {}
    for task in ("sentiment", "backtracking", "refusal"):
        judged = [r for r in records if r["eval"] == task and "judge" in r]
        if not judged:
            continue
        rule, judge = [r["rule"] for r in judged], [r["judge"] for r in judged]
        if task == "sentiment":
            out[task] = sentiment_agreement(rule, judge)
        elif task == "refusal":
            out[task] = refusal_agreement(rule, judge)
        else:
            out[task] = categorical_agreement(rule, judge)
        out[task]["n_unparseable_judge"] = sum(j is None for j in judge)
    return out
