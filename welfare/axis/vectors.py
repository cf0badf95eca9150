"""Reward concept vectors from class sums (docs/protocol.md §3.2, Eq. 1 and Eq. 3).

Everything here works on class *sums* and *counts* with arbitrary leading axes, so the observed
vectors, every label permutation and every bootstrap resample come out of one weighted pass over
the store (`welfare.axis.passes`) and the same few lines of algebra.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

CLASSES: tuple[str, str, str] = ("mold", "gold", "path")
CONCEPTS: tuple[str, str] = ("mold", "gold")
Baseline = Literal["one_vs_rest", "grand_mean", "path_reference"]
BASELINES: tuple[str, ...] = ("one_vs_rest", "grand_mean", "path_reference")


def concept_vectors(sums: np.ndarray, counts: np.ndarray, baseline: Baseline) -> np.ndarray:
    """v_mold, v_gold from class sums (..., 3, L, d) and counts (..., 3) → (..., 2, L, d).

    one_vs_rest (Eq. 1): mean(T_c) − mean(T_other ∪ T_other'), the union pooled;
    grand_mean: mean(T_c) − mean of all samples; path_reference (Eq. 3): mean(T_c) − mean(T_path).
    """
    counts = counts.astype(np.float64)[..., None, None]
    if np.any(counts <= 0):
        raise ValueError("every class needs at least one sample")
    means = sums / counts
    out = []
    for c in (0, 1):  # mold, gold
        if baseline == "one_vs_rest":
            rest = [k for k in range(3) if k != c]
            ref = sums[..., rest, :, :].sum(axis=-3) / counts[..., rest, :, :].sum(axis=-3)
        elif baseline == "grand_mean":
            ref = sums.sum(axis=-3) / counts.sum(axis=-3)
        elif baseline == "path_reference":
            ref = means[..., 2, :, :]
        else:
            raise ValueError(f"unknown baseline {baseline!r}; expected one of {BASELINES}")
        out.append(means[..., c, :, :] - ref)
    return np.stack(out, axis=-3).astype(np.float32)


def centred_class_means(sums: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Class means minus the grand mean of the three class means (docs/protocol.md §4.2, Tables
    9–10)."""
    means = sums / counts.astype(np.float64)[..., None, None]
    return (means - means.mean(axis=-3, keepdims=True)).astype(np.float32)


def cosine(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
    """Cosine along `axis`, 0 where either vector is zero."""
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    num = (a64 * b64).sum(axis=axis)
    den = np.sqrt((a64 * a64).sum(axis=axis) * (b64 * b64).sum(axis=axis))
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0)
