"""The honesty tests: noise must not be declared an axis; a planted antiparallel axis must be."""

from __future__ import annotations

import numpy as np
import pytest

from welfare.axis.geometry import summarise_pass
from welfare.axis.passes import run_store_pass
from welfare.axis.significance import holm, permutation_test_lower
from welfare.axis.synthetic import SyntheticSpec, write_synthetic_store

N_PERM, N_BOOT = 200, 100


def _summary(tmp_path, spec: SyntheticSpec, baseline: str = "one_vs_rest"):
    store = write_synthetic_store(
        tmp_path / f"s{spec.seed}.zarr", spec, chunk_mb=0.01, layers_per_chunk=2
    )
    store_pass = run_store_pass(
        store,
        baseline=baseline,
        n_permutations=N_PERM,
        n_bootstrap=N_BOOT,
        seed=spec.seed,
        progress=False,
    )
    return summarise_pass(
        store_pass, baseline=baseline, alpha=0.05, n_bootstrap_auroc=50, seed=0, bins=50
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pure_noise_with_random_labels_is_never_significant(tmp_path, seed):
    summary = _summary(tmp_path, SyntheticSpec(n_per_class=60, n_layers=4, d_model=32, seed=seed))
    cos = summary["cos"]
    # The structural one-vs-rest cosine of noise: near −0.5, and inside its own null.
    assert -0.8 < cos["avg"]["value"] < -0.2
    assert np.all(np.abs(np.asarray(cos["per_layer"]) - cos["null_mean"]) < 0.3)
    assert summary["layers"]["significant"] == []


def test_anisotropic_noise_gives_a_strong_cosine_that_is_not_significant(tmp_path):
    # One dominant shared direction: label-shuffled class means all lie along it, so the cosine
    # is pushed to ±1 (the −0.89 trap) — and its null moves with it.
    spec = SyntheticSpec(n_per_class=60, n_layers=4, d_model=32, anisotropy=20.0, seed=3)
    summary = _summary(tmp_path, spec)
    assert np.max(np.abs(summary["cos"]["per_layer"])) > 0.85
    assert np.min(summary["cos"]["null_low"]) < -0.9
    assert summary["layers"]["significant"] == []


def test_planted_antiparallel_axis_is_found_only_where_planted(tmp_path):
    spec = SyntheticSpec(
        n_per_class=60,
        n_layers=4,
        d_model=32,
        signal_layers=(1, 2),
        strength=1.5,
        anisotropy=3.0,
        seed=4,
    )
    summary = _summary(tmp_path, spec)
    cos = summary["cos"]
    assert summary["layers"]["significant"] == [1, 2]
    assert cos["min"]["value"] < -0.8 and cos["argmin"] in (1, 2)
    assert all(cos["ci_high"][layer] < cos["null_mean"][layer] for layer in (1, 2))
    assert all(
        cos["ci_low"][layer] < cos["null_mean"][layer] < cos["ci_high"][layer] for layer in (0, 3)
    )
    for concept in ("mold", "gold"):
        auroc = summary["heldout"][concept]["auroc"]
        assert auroc[1] > 0.8 and auroc[2] > 0.8 and abs(auroc[0] - 0.5) < 0.2
        assert summary["layer_star"][concept] in (1, 2)


def test_shuffled_labels_destroy_a_planted_signal(tmp_path):
    spec = SyntheticSpec(
        n_per_class=60,
        n_layers=4,
        d_model=32,
        signal_layers=(1, 2),
        strength=1.5,
        shuffle_labels=True,
        seed=5,
    )
    assert _summary(tmp_path, spec)["layers"]["significant"] == []


def test_max_t_controls_layers_jointly():
    rng = np.random.default_rng(0)
    null = rng.normal(size=(200, 10))
    test = permutation_test_lower(np.zeros(10) - 5.0, null)
    assert np.all(test.p_fwer <= 1 / 201 + 1e-12)
    test = permutation_test_lower(rng.normal(size=10), null)
    assert np.all(test.p_fwer >= test.p_raw) and np.all(test.p_fwer > 0.05 / 10)


def test_holm_matches_hand_computation():
    np.testing.assert_allclose(holm(np.array([0.01, 0.04, 0.03])), [0.03, 0.06, 0.06])
