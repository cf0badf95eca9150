from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from welfare.axis.selection import auroc, cohens_d, histogram_overlap, layer_scores, steering_layer


def test_auroc_matches_sklearn_with_ties():
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 5, size=(200, 3)).astype(float)
    positive = rng.random(200) < 0.4
    for j in range(3):
        assert auroc(scores, positive)[j] == pytest.approx(roc_auc_score(positive, scores[:, j]))


def test_cohens_d_pooled():
    pos, neg = np.array([1.0, 2, 3, 4]), np.array([0.0, 1, 2])
    pooled = np.sqrt((3 * pos.var(ddof=1) + 2 * neg.var(ddof=1)) / 5)
    got = cohens_d(np.concatenate([pos, neg]), np.array([True] * 4 + [False] * 3))
    assert got == pytest.approx((pos.mean() - neg.mean()) / pooled)


def test_histogram_overlap_extremes():
    rng = np.random.default_rng(1)
    x = rng.normal(size=400)
    positive = np.arange(400) < 200
    separated = np.where(positive, x + 100, x)
    assert histogram_overlap(separated, positive)[0] == pytest.approx(0)
    same = np.concatenate([x[:200], x[:200]])
    assert histogram_overlap(same, positive)[0] == pytest.approx(1)


def test_layer_star_is_floor_of_the_mean_of_three_choices():
    assert (
        steering_layer(
            np.array([0, 1, 0, 0.5]), np.array([0, 0, 0, 9]), np.array([0.1, 0, 0.5, 0.2])
        )
        == (1 + 3 + 1) // 3
    )
    rng = np.random.default_rng(2)
    positive = np.arange(300) < 100
    proj = rng.normal(size=(300, 5))
    proj[positive, 3] += 3.0  # layer 3 separates
    scores = layer_scores(proj, np.tanh(proj), positive)
    assert scores.layer_star == 3
