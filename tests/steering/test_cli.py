"""`welfare steer` end to end on a tiny model, a written corpus, vectors and eval mazes."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.steering.conftest import write_corpus, write_vectors
from welfare.cli import main

TINY_STEER = {
    "alphas": [-4, 0, 4],
    "generation": {"max_new_tokens": 6, "batch_size": 16},
    "sentiment": {"samples": 1, "association": False},
    "backtracking": {"n_prompts": 3, "samples": 1},
    "confidence": {"n_prompts": 4, "answer_max_new_tokens": 4},
    "refusal": {"n_prompts": 4, "samples": 1},
    "maze": {"n_mazes": 2},
    "layer_sweep": {
        "alphas": [-4, 4],
        "evals": ["confidence"],
        "n_prompts": {"confidence": 3},
    },
}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    from welfare.model.testing import tiny_model_dir

    root = tmp_path_factory.mktemp("steer")
    naive = tiny_model_dir(root, "qwen3", layers=2, seed=0, name="naive")
    trained = tiny_model_dir(root, "qwen3", layers=2, seed=1, name="trained")
    vectors = write_vectors(root / "vectors.nc", d_model=32, n_layers=2)
    corpus = write_corpus(root / "heldout.jsonl")
    mazes = root / "eval_mazes.parquet"
    pd.DataFrame({"maze_seed": [900000, 900001, 900002]}).to_parquet(mazes)
    params = root / "params.yaml"
    base = yaml.safe_load(Path("params.yaml").read_text(encoding="utf-8"))
    base["steer"] = TINY_STEER
    base["maze"]["turns"] = 4  # short episodes: the maze eval's plumbing, not its statistics
    base["runtime"]["threads"] = 1
    params.write_text(yaml.safe_dump(base, allow_unicode=True))
    return root, naive, trained, vectors, corpus, mazes, params


def test_steer_cli_writes_the_documented_json(workspace):
    root, naive, trained, vectors, corpus, mazes, params = workspace
    out, records = root / "steer.json", root / "records.jsonl"
    rc = main(
        [
            "steer", "--params", str(params), "--vectors", str(vectors),
            "--naive-model", str(naive), "--trained-model", str(trained),
            "--corpus", str(corpus), "--eval-mazes", str(mazes), "--organism", "reinforce",
            "--out", str(out), "--records", str(records), "--plots", str(root / "plots"),
        ]
    )  # fmt: skip
    assert rc == 0
    result = json.loads(out.read_text())
    naive_run = result["runs"]["naive"]
    expected_metrics = {
        "sentiment", "sentiment_self_report", "backtracking", "p_true", "refusal_benign",
        "refusal_harmful", "maze_gold", "maze_mold",
    }  # fmt: skip
    assert expected_metrics <= set(naive_run)
    assert set(naive_run["p_true"]) == {
        "v_mold", "u_mold", "random_mold", "v_gold", "u_gold", "random_gold",
    }  # fmt: skip
    # controls never steer the trained model
    assert set(result["runs"]["trained"]["p_true"]) == {"v_mold", "v_gold"}
    cell = naive_run["p_true"]["v_gold"]
    assert cell["layer"] == 1 and [p["alpha"] for p in cell["points"]] == [-4, 0, 4]
    assert all(0 <= p["mean"] <= 1 for p in cell["points"])
    assert cell["n"] == 3 * 4 and cell["se"] >= 0
    # u is norm-matched to v at v's layer: β‖u‖ = α‖v‖
    described = result["vectors"]
    assert described["u_mold"]["norm"] == pytest.approx(described["v_mold"]["norm"], rel=1e-5)
    assert described["random_gold"]["norm"] == pytest.approx(described["v_gold"]["norm"], rel=1e-5)
    sweep = result["layer_sweep"]["naive"]
    assert [row["layer"] for row in sweep["p_true"]["v_mold"]] == [0, 1]
    lines = [json.loads(line) for line in records.read_text().splitlines()]
    baseline = [r for r in lines if r["run"] == "naive" and r["alpha"] == 0]
    # α = 0 is run once, shared by every vector
    assert baseline and all(r["vector"] is None for r in baseline)
    assert {r["eval"] for r in lines} == {
        "sentiment",
        "backtracking",
        "confidence",
        "refusal",
        "maze",
    }


def test_steer_cli_builtin_english_needs_no_corpus(workspace):
    """A real LM's battery: built-in English prompts, natural scorers, no --corpus."""
    root, naive, _, vectors, _, _, _ = workspace
    base = yaml.safe_load(Path("params.yaml").read_text(encoding="utf-8"))
    base["steer"] = {
        **TINY_STEER,
        "prompt_set": "builtin",
        "rule_scorer": "natural",
        "controls": [],
        "steer_trained": False,
        "evals": ["sentiment", "backtracking", "refusal"],
        "sentiment": {"samples": 1, "association": False, "neutral": True},
        "refusal": {"n_prompts": 2, "samples": 1},
        "layer_sweep": {"enabled": False},
    }
    base["runtime"]["threads"] = 1
    params = root / "builtin.yaml"
    params.write_text(yaml.safe_dump(base, allow_unicode=True))
    out, records = root / "steer_builtin.json", root / "records_builtin.jsonl"
    rc = main(
        [
            "steer", "--params", str(params), "--vectors", str(vectors),
            "--naive-model", str(naive), "--organism", "reinforce",
            "--out", str(out), "--records", str(records),
        ]
    )  # fmt: skip
    assert rc == 0
    result = json.loads(out.read_text())
    assert result["rule_scorer"] == "natural" and result["prompt_set"] == "builtin"
    assert {"sentiment_self_report", "sentiment_neutral", "refusal_borderline",
            "refusal_harmful", "backtracking"} <= set(result["runs"]["naive"])  # fmt: skip
    assert result["n_prompts"]["refusal"] == 4 and result["n_prompts"]["backtracking"] == 3
    lines = [json.loads(line) for line in records.read_text().splitlines()]
    from welfare.steering.natural import refusal_label

    refusals = [r for r in lines if r["eval"] == "refusal"]
    assert refusals and all(r["rule"] == refusal_label(r["response"]) for r in refusals)
    assert {r["prompt_id"].split("/")[0] for r in refusals} == {"borderline", "harmful"}
