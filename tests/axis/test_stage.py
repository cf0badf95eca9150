"""`run_axis` at two token positions: each has its own vectors, null and held-out AUROC; a signal
planted at one position is found there and only there; the steering position feeds the vectors
file."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from welfare.axis import load_vectors
from welfare.axis.positions import AxisPositions
from welfare.axis.stage import AxisInputs, run_axis
from welfare.axis.synthetic import SyntheticSpec, write_synthetic_store
from welfare.config import load_params

POSITIONS = ("letter", "decision")
SHAPE = dict(n_per_class=60, n_layers=3, d_model=32, anisotropy=3.0)


def _stores(tmp_path, planted: str | None, positions=POSITIONS):
    trained = write_synthetic_store(
        tmp_path / "final.zarr",
        SyntheticSpec(
            **SHAPE,
            signal_layers=(1, 2),
            strength=2.0,
            seed=11,
            positions=positions,
            signal_position=planted,
        ),
        chunk_mb=0.01,
    )
    naive = write_synthetic_store(
        tmp_path / "naive.zarr", SyntheticSpec(**SHAPE, seed=12, positions=positions), chunk_mb=0.01
    )
    return trained, naive


def _params(**axis):
    params = load_params()
    params["axis"].update(n_bootstrap=100, n_bootstrap_auroc=0, **axis)
    params["runtime"]["threads"] = 1
    return params


def _inputs(tmp_path, trained, naive) -> AxisInputs:
    return AxisInputs(
        trained_store=trained,
        naive_store=naive,
        out_vectors=tmp_path / "vectors.nc",
        out_metrics=tmp_path / "axis.json",
        organism="org",
    )


@pytest.mark.parametrize("planted", POSITIONS)
def test_a_signal_planted_at_one_position_is_significant_there_only(tmp_path, planted):
    trained, naive = _stores(tmp_path, planted)
    inputs = _inputs(tmp_path, trained, naive)
    run_axis(inputs, _params())
    metrics = json.loads(inputs.out_metrics.read_text())  # what the report and DVC read
    other = next(p for p in POSITIONS if p != planted)
    assert list(metrics["positions"]) == list(POSITIONS)
    at = {p: metrics["positions"][p] for p in POSITIONS}
    assert at[planted]["headline"]["trained"]["significant_layers"] == [1, 2]
    assert at[other]["headline"]["trained"]["significant_layers"] == []
    for p in POSITIONS:
        assert at[p]["headline"]["control"]["significant_layers"] == []
        assert at[p]["trained"]["n_permutations"] == 200
        assert len(at[p]["trained"]["cos"]["p_fwer"]) == 3  # max-T over layers, per position
    assert at[planted]["headline"]["trained"]["min_cos_p"] < 0.05
    assert at[other]["headline"]["trained"]["min_cos_p"] > 0.05
    auroc = {p: np.asarray(at[p]["trained"]["heldout"]["gold"]["auroc"]) for p in POSITIONS}
    assert auroc[planted][1:].min() > 0.75
    above = {p: at[p]["trained"]["layers"]["auroc_above_chance"] for p in POSITIONS}
    assert above[planted] == {"mold": [1, 2], "gold": [1, 2]}
    assert above[other] == {"mold": [], "gold": []}
    # The paper's position stays the default: the top level is the letter's analysis.
    assert metrics["steer_position"] == "letter"
    assert metrics["headline"] == at["letter"]["headline"]
    assert metrics["trained"]["cos"]["per_layer"] == at["letter"]["trained"]["cos"]["per_layer"]


def test_the_steering_position_feeds_the_vectors_file(tmp_path):
    trained, naive = _stores(tmp_path, "decision")
    metrics = run_axis(_inputs(tmp_path, trained, naive), _params(steer_position="decision"))
    assert metrics["headline"]["trained"]["significant_layers"] == [1, 2]
    ds = load_vectors(tmp_path / "vectors.nc")
    assert ds.attrs["position"] == "decision"
    assert ds.position.values.tolist() == list(POSITIONS)
    assert ds.v_by_position.dims == ("position", "concept", "layer", "d_model")
    np.testing.assert_array_equal(ds.v.values, ds.v_by_position.sel(position="decision").values)
    np.testing.assert_array_equal(ds.u.values, ds.u_by_position.sel(position="decision").values)
    assert not np.allclose(ds.v.values, ds.v_by_position.sel(position="letter").values)
    np.testing.assert_array_equal(
        ds.layer_star_v.values, ds.layer_star_v_by_position.sel(position="decision").values
    )


def test_positions_a_store_lacks_fail_before_any_work(tmp_path):
    trained, naive = _stores(tmp_path, None, positions=())  # no position dim: the letter alone
    inputs = _inputs(tmp_path, trained, naive)
    with pytest.raises(ValueError, match=r"final\.zarr: axis\.positions asks for \['decision'\]"):
        run_axis(inputs, _params())
    assert not inputs.out_metrics.exists()
    metrics = run_axis(inputs, _params(positions=["letter"]))
    assert list(metrics["positions"]) == ["letter"]
    with pytest.raises(ValueError, match="axis.steer_position: expected one of"):
        AxisPositions(("letter",), "decision")


def test_with_lora_on_the_top_blocks_the_headline_adds_their_own_minimum(tmp_path):
    """Under LoRA on the top blocks the lower blocks compute what the naive model computes, so
    the minimum over every layer can sit on a block RL never touched: the adapted minimum is taken
    over the top blocks, with its null reduced over the same blocks."""
    trained, naive = _stores(tmp_path, "letter")
    inputs = _inputs(tmp_path, trained, naive)
    metrics = run_axis(replace(inputs, top_layers=1), _params(positions=["letter"]))
    cos = metrics["trained"]["cos"]
    head = metrics["headline"]["trained"]
    assert head["adapted_from"] == 2 == cos["adapted"]["first_layer"]
    assert head["min_cos_adapted_layer"] == 2
    assert head["min_cos_adapted"] == pytest.approx(cos["per_layer"][2])
    assert head["avg_cos_adapted"] == pytest.approx(cos["per_layer"][2])  # one adapted block
    assert head["min_cos_adapted_p"] < 0.05  # the planted signal
    assert metrics["headline"]["control"]["min_cos_adapted_p"] > 0.05
    # the minimum of fewer layers' null cosines is larger: the null was reduced over block 2 only
    assert head["min_cos_adapted_null_mean"] == pytest.approx(cos["null_mean"][2])
    assert head["min_cos_adapted_null_mean"] > head["min_cos_null_mean"]
    # every block adapted (or full fine-tuning): nothing extra
    full = run_axis(inputs, _params(positions=["letter"]))
    assert "adapted" not in full["trained"]["cos"]
    assert "min_cos_adapted" not in full["headline"]["trained"]
    assert "adapted" not in run_axis(replace(inputs, top_layers=3), _params())["trained"]["cos"]
