"""Statistics of the battery and of tracking: pooled OLS slopes, Cohen's d, standardising."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Slope:
    """OLS fit y = intercept + slope·α over every individual score (pooled over prompts)."""

    slope: float
    se: float  # classical OLS standard error of the slope
    intercept: float
    n: int

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)


def ols_slope(alphas: Sequence[float], values: Sequence[float]) -> Slope:
    """Pooled OLS slope of `values` on `alphas`; NaN values (unparseable responses) are dropped."""
    x = np.asarray(alphas, dtype=float)
    y = np.asarray(values, dtype=float)
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    n = int(x.size)
    if n < 2 or np.ptp(x) == 0:
        return Slope(math.nan, math.nan, float(np.mean(y)) if n else math.nan, n)
    xc = x - x.mean()
    sxx = float(xc @ xc)
    slope = float(xc @ (y - y.mean())) / sxx
    intercept = float(y.mean() - slope * x.mean())
    if n < 3:
        return Slope(slope, math.nan, intercept, n)
    residuals = y - (intercept + slope * x)
    sigma2 = float(residuals @ residuals) / (n - 2)
    return Slope(slope, math.sqrt(sigma2 / sxx), intercept, n)


def cohens_d(a: Sequence[float], b: Sequence[float]) -> float:
    """(mean a − mean b) / pooled SD (ddof 1). NaN when either group has < 2 values."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.size < 2 or b.size < 2:
        return math.nan
    pooled = ((a.size - 1) * a.var(ddof=1) + (b.size - 1) * b.var(ddof=1)) / (a.size + b.size - 2)
    if pooled <= 0:
        return math.nan
    return float((a.mean() - b.mean()) / math.sqrt(pooled))


def standardize(values: Sequence[float]) -> np.ndarray:
    """In SDs from the mean over all values (docs/protocol.md §4.11: over both classes)."""
    x = np.asarray(values, dtype=float)
    sd = x.std(ddof=1) if x.size > 1 else 0.0
    return (x - x.mean()) / sd if sd > 0 else x - x.mean()


def rate(labels: Sequence[str], positive: set[str], exclude: set[str] = frozenset()) -> float:
    """Share of `positive` labels among labels not in `exclude` (e.g. unparseable)."""
    kept = [label for label in labels if label not in exclude]
    return sum(label in positive for label in kept) / len(kept) if kept else math.nan


def finite_or_none(value: Any) -> Any:
    """Replace NaN/inf floats (nested in dicts/lists) by None: strict JSON for DVC and plots."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite_or_none(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_or_none(v) for v in value]
    if isinstance(value, np.floating):
        return finite_or_none(float(value))
    return value
