"""Nulls, confidence intervals and the decision which layers beat the null.

Why this module exists: with the one-vs-rest baseline v_mold and v_gold share their subtracted
terms, so pure noise already gives cos ≈ −0.5, and anisotropic activations push the label-shuffled
cosine much lower (−0.89 was measured on a small organism). A cosine therefore means nothing
without (1) its permutation null on the same activations, (2) a bootstrap CI, and (3) evidence
that each vector separates held-out classes (AUROC).

Decision per layer (all at level `alpha`, family-wise over layers):
- cosine beats the null: lower-tail permutation test with studentised max-T over layers
  (Westfall–Young), which stays exact under the layer-to-layer correlation and, unlike min-p,
  can reach small p with a few hundred permutations;
- each concept's held-out AUROC > 0.5: one-sided Mann–Whitney test, Holm over layers;
- a layer is *significant* only if all three hold.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from welfare.axis.selection import auroc


@dataclass(frozen=True)
class PermutationTest:
    p_raw: np.ndarray  # (L,) lower-tail, per layer
    p_fwer: np.ndarray  # (L,) max-T adjusted over layers
    null_mean: np.ndarray  # (L,)
    null_low: np.ndarray  # (L,) 2.5% quantile
    null_high: np.ndarray  # (L,) 97.5% quantile
    z: np.ndarray  # (L,) (observed − null mean) / null SD


def permutation_test_lower(observed: np.ndarray, null: np.ndarray) -> PermutationTest:
    """Is `observed` (L,) below its permutation null (P, L)? Per layer and max-T over layers."""
    n_perm = null.shape[0]
    if n_perm < 1:
        raise ValueError("a permutation test needs permutations")
    mean = null.mean(axis=0)
    sd = null.std(axis=0, ddof=1) if n_perm > 1 else np.ones_like(mean)
    sd = np.where(sd > 0, sd, np.finfo(float).tiny)
    z_obs = (observed - mean) / sd
    z_null = (null - mean) / sd
    p_raw = (1 + (null <= observed).sum(axis=0)) / (n_perm + 1)
    min_null = z_null.min(axis=1)  # (P,) the most extreme layer of each permutation
    p_fwer = (1 + (min_null[:, None] <= z_obs[None, :]).sum(axis=0)) / (n_perm + 1)
    p_fwer = np.maximum(p_fwer, p_raw)  # never more significant than the layer's own test
    low, high = np.quantile(null, [0.025, 0.975], axis=0)
    return PermutationTest(p_raw, p_fwer, mean, low, high, z_obs)


def percentile_ci(samples: np.ndarray, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Percentile bootstrap interval along axis 0."""
    tail = (1 - level) / 2
    low, high = np.quantile(samples, [tail, 1 - tail], axis=0)
    return low, high


def holm(p: np.ndarray) -> np.ndarray:
    """Holm step-down adjusted p values (monotone, capped at 1)."""
    p = np.asarray(p, dtype=float)
    order = np.argsort(p)
    m = len(p)
    adjusted = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out = np.empty(m)
    out[order] = np.minimum(adjusted, 1.0)
    return out


def auroc_above_chance(scores: np.ndarray, positive: np.ndarray) -> np.ndarray:
    """One-sided Mann–Whitney p values that positives score higher, per column of (n, L)."""
    from scipy.stats import mannwhitneyu

    positive = np.asarray(positive, dtype=bool)
    result = mannwhitneyu(
        scores[positive], scores[~positive], alternative="greater", axis=0, method="asymptotic"
    )
    return np.atleast_1d(result.pvalue)


def bootstrap_auroc(
    scores: np.ndarray, positive: np.ndarray, n_bootstrap: int, seed: int
) -> np.ndarray:
    """(B, L) AUROCs of held-out scores resampled within class (trajectories with replacement)."""
    rng = np.random.default_rng(seed)
    pos, neg = np.flatnonzero(positive), np.flatnonzero(~np.asarray(positive, dtype=bool))
    out = []
    for _ in range(n_bootstrap):
        idx = np.concatenate([rng.choice(pos, len(pos)), rng.choice(neg, len(neg))])
        out.append(auroc(scores[idx], np.arange(len(idx)) < len(pos)))
    return np.array(out)
