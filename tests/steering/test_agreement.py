from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from welfare.steering.agreement import (
    categorical_agreement,
    cohens_kappa,
    record_agreement,
    refusal_agreement,
    sentiment_agreement,
)


def test_kappa_matches_sklearn_plain_and_linear():
    rng = np.random.default_rng(0)
    a = rng.integers(-5, 6, size=200)
    b = np.clip(a + rng.integers(-2, 3, size=200), -5, 5)
    assert cohens_kappa(a.tolist(), b.tolist()) == pytest.approx(cohen_kappa_score(a, b))
    # sklearn's linear weights use label indices; ours use the values: equal for consecutive ints
    labels = list(range(-5, 6))
    ref = cohen_kappa_score(a, b, weights="linear", labels=labels)
    ours = cohens_kappa(a.tolist() + labels, b.tolist() + labels, weights="linear")
    ref = cohen_kappa_score(a.tolist() + labels, b.tolist() + labels, weights="linear")
    assert ours == pytest.approx(ref)


def test_sentiment_agreement_columns():
    out = sentiment_agreement([1.2, -3.0, 0.0, None], [1, -2, 0, 4])
    assert out["n"] == 3
    assert out["exact"] == pytest.approx(2 / 3) and out["within_1"] == 1.0
    assert out["mae"] == pytest.approx((0.2 + 1.0 + 0.0) / 3)


def test_refusal_binary_and_four_class():
    rule = ["direct_refusal", "indirect_refusal", "direct_answer", "nonsensical"]
    judge = ["indirect_refusal", "indirect_refusal", "direct_answer", None]
    out = refusal_agreement(rule, judge)
    assert out["binary"]["n"] == 3 and out["binary"]["agreement"] == 1.0
    assert out["four_class"]["agreement"] == pytest.approx(2 / 3)
    assert categorical_agreement([], [])["n"] == 0


def test_record_agreement_per_task():
    records = [
        {"eval": "backtracking", "rule": "normal", "judge": "normal"},
        {"eval": "backtracking", "rule": "backtracking", "judge": None},
        {"eval": "sentiment", "rule": 2, "judge": 3},
        {"eval": "sentiment", "rule": -1},  # not judged
    ]
    out = record_agreement(records)
    assert out["backtracking"]["n"] == 1 and out["backtracking"]["n_unparseable_judge"] == 1
    assert out["sentiment"]["n"] == 1 and out["sentiment"]["within_1"] == 1.0
    assert "refusal" not in out
