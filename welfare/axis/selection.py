"""Layer selection scores on held-out activations (docs/protocol.md §3.4) and the steering layer
ℓ*."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def auroc(scores: np.ndarray, positive: np.ndarray) -> np.ndarray:
    """AUROC of `scores` (n, ...) for the boolean `positive` (n,), along axis 0 (ties count ½)."""
    from scipy.stats import rankdata

    positive = np.asarray(positive, dtype=bool)
    n_pos, n_neg = positive.sum(), (~positive).sum()
    if n_pos == 0 or n_neg == 0:
        raise ValueError("AUROC needs positive and negative samples")
    ranks = rankdata(scores, axis=0)
    u = ranks[positive].sum(axis=0) - n_pos * (n_pos + 1) / 2
    return u / (n_pos * n_neg)


def cohens_d(scores: np.ndarray, positive: np.ndarray) -> np.ndarray:
    """(mean_pos − mean_neg) / pooled SD along axis 0."""
    pos, neg = scores[positive], scores[~positive]
    n1, n2 = len(pos), len(neg)
    pooled = ((n1 - 1) * pos.var(axis=0, ddof=1) + (n2 - 1) * neg.var(axis=0, ddof=1)) / (
        n1 + n2 - 2
    )
    sd = np.sqrt(pooled)
    diff = pos.mean(axis=0) - neg.mean(axis=0)
    return np.divide(diff, sd, out=np.zeros_like(diff), where=sd > 0)


def histogram_overlap(values: np.ndarray, positive: np.ndarray, bins: int = 50) -> np.ndarray:
    """Overlap Σ min(p, q) of the two classes' normalised histograms, per column (axis 0)."""
    values = values.reshape(len(values), -1)
    out = np.empty(values.shape[1])
    for j in range(values.shape[1]):
        col = values[:, j]
        lo, hi = float(col.min()), float(col.max())
        if hi <= lo:
            out[j] = 1.0
            continue
        edges = np.linspace(lo, hi, bins + 1)
        p, _ = np.histogram(col[positive], bins=edges)
        q, _ = np.histogram(col[~positive], bins=edges)
        out[j] = np.minimum(p / p.sum(), q / q.sum()).sum()
    return out


@dataclass(frozen=True)
class LayerScores:
    """Per-layer scores of one vector on held-out data."""

    auroc: np.ndarray  # (L,)
    abs_d: np.ndarray  # (L,)
    overlap: np.ndarray  # (L,)

    @property
    def layer_star(self) -> int:
        """ℓ* = ⌊(argmax AUROC + argmax |d| + argmin overlap) / 3⌋."""
        return steering_layer(self.auroc, self.abs_d, self.overlap)


def steering_layer(auroc_l: np.ndarray, abs_d_l: np.ndarray, overlap_l: np.ndarray) -> int:
    total = int(np.argmax(auroc_l)) + int(np.argmax(abs_d_l)) + int(np.argmin(overlap_l))
    return total // 3


def layer_scores(
    projections: np.ndarray, cosines: np.ndarray, positive: np.ndarray, bins: int = 50
) -> LayerScores:
    """Scores from held-out scalar projections h·v/‖v‖ and cosines cos(h, v), both (n, L)."""
    return LayerScores(
        auroc=auroc(projections, positive),
        abs_d=np.abs(cohens_d(projections, positive)),
        overlap=histogram_overlap(cosines, positive, bins),
    )
