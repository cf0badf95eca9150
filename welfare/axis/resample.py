"""Label permutations and stratified bootstrap resamples as weight columns.

Class sums under any relabelling or resampling are linear in the activations: sums = Wᵀ X with
W (n, 3) one-hot labels (observed or permuted) or per-sample draw counts (bootstrap). Stacking the
observed labels, P permutations and B bootstraps gives W (n, R, 3), R = 1 + P + B, and one pass
over the store yields every resample's class sums at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ResamplePlan:
    labels: np.ndarray  # (n,) class index 0=mold, 1=gold, 2=path, training split
    n_permutations: int
    n_bootstrap: int
    seed: int

    @property
    def n_resamples(self) -> int:
        return 1 + self.n_permutations + self.n_bootstrap

    @property
    def permutations(self) -> slice:
        return slice(1, 1 + self.n_permutations)

    @property
    def bootstraps(self) -> slice:
        return slice(1 + self.n_permutations, self.n_resamples)

    def weights(self) -> np.ndarray:
        """(n, R, 3) float32: column 0 observed, then permuted labels, then bootstrap counts."""
        labels = np.asarray(self.labels)
        n = len(labels)
        rng = np.random.default_rng(self.seed)
        out = np.zeros((n, self.n_resamples, 3), dtype=np.float32)
        rows = np.arange(n)
        out[rows, 0, labels] = 1.0
        for r in range(1, 1 + self.n_permutations):
            out[rows, r, rng.permutation(labels)] = 1.0
        members = [np.flatnonzero(labels == c) for c in range(3)]
        for r in range(1 + self.n_permutations, self.n_resamples):
            # Stratified: resample trajectories within each class, so class sizes stay fixed.
            for c, idx in enumerate(members):
                if len(idx):
                    draws = rng.choice(idx, size=len(idx), replace=True)
                    np.add.at(out[:, r, c], draws, 1.0)
        return out

    def counts(self) -> np.ndarray:
        """(R, 3) class counts of every resample (fixed by construction)."""
        base = np.bincount(np.asarray(self.labels), minlength=3).astype(np.float64)
        return np.broadcast_to(base, (self.n_resamples, 3)).copy()
