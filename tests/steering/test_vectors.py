from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.steering.conftest import write_vectors
from welfare.steering.vectors import (
    extra_vectors,
    load_vectors_file,
    norm_matched_beta,
    random_direction,
    vector_set,
)


@pytest.fixture(scope="module")
def ds(tmp_path_factory):
    return load_vectors_file(write_vectors(tmp_path_factory.mktemp("v") / "v.nc", 16, 4))


def test_beta_matches_norms():
    assert norm_matched_beta(4.0, 4.07, 4.46) * 4.46 == pytest.approx(4.0 * 4.07)


def test_vector_set_layers_and_norm_matching(ds):
    vectors = {v.name: v for v in vector_set(ds)}
    assert set(vectors) == {"v_mold", "u_mold", "random_mold", "v_gold", "u_gold", "random_gold"}
    assert vectors["v_mold"].layer == 1 and vectors["v_gold"].layer == 3
    assert vectors["u_mold"].layer == 0 and vectors["u_gold"].layer == 1  # their own ℓ*
    for concept in ("mold", "gold"):
        v, u = vectors[f"v_{concept}"], vectors[f"u_{concept}"]
        raw_u = ds["u"].sel(concept=concept, layer=u.layer).values
        # β‖u‖ = α‖v‖ at every α, the direction is u's
        for alpha in (-4, 2):
            added = u.addition(alpha)[u.layer]
            assert float(added.norm()) == pytest.approx(abs(alpha) * v.norm, rel=1e-5)
        cos = np.dot(u.direction.numpy(), raw_u) / (u.norm * np.linalg.norm(raw_u))
        assert cos == pytest.approx(1.0, abs=1e-6)
        assert u.beta_per_alpha == pytest.approx(v.norm / np.linalg.norm(raw_u), rel=1e-5)
        assert vectors[f"random_{concept}"].norm == pytest.approx(v.norm, rel=1e-5)
    np.testing.assert_allclose(
        vectors["v_gold"].direction.numpy(), ds["v"].sel(concept="gold", layer=3).values
    )


def test_random_controls_independent_per_concept(ds):
    at1 = {v.name: v for v in vector_set(ds, controls=("random",), layer=1)}
    a, b = at1["random_mold"].direction, at1["random_gold"].direction
    cos = float(a @ b / (a.norm() * b.norm()))
    assert abs(cos) < 0.9  # same layer, different concepts: different directions
    again = {v.name: v for v in vector_set(ds, controls=("random",), layer=1)}
    assert torch.equal(again["random_mold"].direction, a)  # and reproducible


def test_sweep_layer_and_trained_control_layer(ds):
    at2 = vector_set(ds, ("gold",), ("u",), layer=2)
    assert [v.layer for v in at2] == [2, 2]
    same = {v.name: v for v in vector_set(ds, ("mold",), ("u",), control_layer="trained")}
    assert same["u_mold"].layer == same["v_mold"].layer


def test_random_direction_seeded():
    a, b = random_direction(64, 3.0, 1), random_direction(64, 3.0, 1)
    assert torch.equal(a, b) and float(a.norm()) == pytest.approx(3.0, rel=1e-5)
    assert not torch.equal(a, random_direction(64, 3.0, 2))


def test_extra_vector_rescaled(ds, tmp_path):
    np.save(tmp_path / "pc1.npy", np.ones((4, 16), dtype="f4"))
    (extra,) = extra_vectors(
        [{"name": "pc1", "path": "pc1.npy", "match_norm": "gold"}], ds, tmp_path
    )
    assert extra.layer == 3 and extra.kind == "extra"
    assert extra.norm == pytest.approx(
        float(np.linalg.norm(ds["v"].sel(concept="gold", layer=3))), rel=1e-5
    )


def test_extra_vector_from_a_vectors_file_variable(tmp_path):
    import xarray as xr

    ds = load_vectors_file(write_vectors(tmp_path / "v.nc", 16, 4))
    sentiment = np.arange(2 * 4 * 16, dtype="f4").reshape(2, 4, 16)
    ds = ds.assign(sentiment=(("sentiment_method", "layer", "d_model"), sentiment))
    ds = ds.assign_coords(sentiment_method=["cad", "prompt"])
    assert isinstance(ds, xr.Dataset)
    spec = {
        "name": "prompt_sentiment",
        "variable": "sentiment",
        "select": {"sentiment_method": "prompt"},
        "layer": 2,
    }
    (extra,) = extra_vectors([spec], ds)
    np.testing.assert_array_equal(extra.direction.numpy(), sentiment[1, 2])
    with pytest.raises(ValueError, match="path or a variable"):
        extra_vectors([{"name": "x"}], ds)
