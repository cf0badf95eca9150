from __future__ import annotations

import numpy as np
import pytest

from welfare.axis.resample import ResamplePlan
from welfare.axis.vectors import centred_class_means, concept_vectors, cosine


def _data(seed=0, sizes=(5, 7, 6), L=3, d=4):
    rng = np.random.default_rng(seed)
    xs = [rng.normal(size=(n, L, d)) + k for k, n in enumerate(sizes)]
    sums = np.stack([x.sum(0) for x in xs])
    return xs, sums, np.array(sizes)


def test_one_vs_rest_is_eq1_pooled_over_the_union():
    xs, sums, counts = _data()
    v = concept_vectors(sums, counts, "one_vs_rest")
    np.testing.assert_allclose(
        v[0], xs[0].mean(0) - np.concatenate([xs[1], xs[2]]).mean(0), rtol=1e-5
    )
    np.testing.assert_allclose(
        v[1], xs[1].mean(0) - np.concatenate([xs[0], xs[2]]).mean(0), rtol=1e-5
    )


def test_other_baselines():
    xs, sums, counts = _data()
    grand = np.concatenate(xs).mean(0)
    np.testing.assert_allclose(
        concept_vectors(sums, counts, "grand_mean")[1], xs[1].mean(0) - grand, rtol=1e-5
    )
    np.testing.assert_allclose(
        concept_vectors(sums, counts, "path_reference")[0], xs[0].mean(0) - xs[2].mean(0), rtol=1e-5
    )
    # Equal class sizes: grand-mean vectors are 2/3 of one-vs-rest vectors (docs/protocol.md §3.2).
    xs, sums, counts = _data(sizes=(6, 6, 6))
    np.testing.assert_allclose(
        concept_vectors(sums, counts, "grand_mean"),
        concept_vectors(sums, counts, "one_vs_rest") * 2 / 3,
        rtol=1e-5,
    )
    with pytest.raises(ValueError):
        concept_vectors(sums, counts, "nope")


def test_centred_means_and_cosine():
    _, sums, counts = _data()
    centred = centred_class_means(sums, counts)
    np.testing.assert_allclose(centred.sum(0), 0, atol=1e-5)
    assert cosine(np.array([1.0, 0]), np.array([-2.0, 0])) == pytest.approx(-1)
    assert cosine(np.zeros(2), np.ones(2)) == 0


def test_resample_weights():
    labels = np.array([0, 0, 1, 1, 1, 2, 2, 2, 2])
    plan = ResamplePlan(labels, n_permutations=20, n_bootstrap=20, seed=0)
    w = plan.weights()
    assert w.shape == (9, 41, 3)
    np.testing.assert_array_equal(w.sum(0), plan.counts())  # class sizes never change
    np.testing.assert_array_equal(w[:, 0].argmax(1), labels)
    perm = w[:, plan.permutations]
    assert set(np.unique(perm)) == {0.0, 1.0} and np.all(perm.sum(-1) == 1)
    assert any(not np.array_equal(perm[:, r].argmax(1), labels) for r in range(20))
    boot = w[:, plan.bootstraps]
    for c in range(3):  # a bootstrap draws class c only from class c's trajectories
        assert np.all(boot[labels != c, :, c] == 0)


def test_metrics_are_strict_json():
    import json

    from welfare.axis.stage import json_safe

    safe = json_safe({"a": np.array([1.0, np.nan]), "b": (np.int64(3), np.float32(np.inf))})
    assert json.loads(json.dumps(safe, allow_nan=False)) == {"a": [1.0, None], "b": [3, None]}
