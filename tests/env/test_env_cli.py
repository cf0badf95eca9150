"""`welfare env` end to end on a small overlay: files, columns, metrics."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from welfare.cli import main
from welfare.config import REPO_ROOT, load_params
from welfare.env import render_sft_messages, render_trajectory_messages

EXTRACTION_COLUMNS = [
    "trajectory_id", "maze_seed", "n_steps", "actions", "positions", "final_tile", "split",
    "render_seed",
]  # fmt: skip


@pytest.fixture(scope="module")
def env_run(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("env")
    overlay = tmp / "small.yaml"
    overlay.write_text(
        "env:\n  extraction: {per_class: 30}\n  eval: {n_mazes: 3}\n  sft: {n_demos: 4}\n"
    )
    params_files = [str(REPO_ROOT / "params.yaml"), str(overlay)]
    args = ["env"] + [x for p in params_files for x in ("--params", p)]
    out, metrics = tmp / "data/env/office", tmp / "metrics/env/office/class_balance.json"
    rc = main(args + ["--mapping", "office", "--out", str(out), "--metrics", str(metrics)])
    return rc, out, metrics, load_params(params_files)


def test_writes_all_outputs_and_no_temporaries(env_run) -> None:
    rc, out, metrics, _ = env_run
    assert rc == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "eval_mazes.parquet", "extraction.parquet", "sft.parquet"
    ]  # fmt: skip
    assert metrics.exists() and not list(metrics.parent.glob(".*tmp*"))


def test_extraction_columns_and_counts(env_run) -> None:
    _, out, _, _ = env_run
    df = pd.read_parquet(out / "extraction.parquet")
    assert list(df.columns) == EXTRACTION_COLUMNS
    assert len(df) == 90 and df["final_tile"].value_counts().to_dict() == {
        "mold": 30, "gold": 30, "path": 30
    }  # fmt: skip
    assert set(df["split"]) == {"train", "heldout"}
    assert (df["actions"].map(len) == df["n_steps"]).all()


def test_rows_render_from_parquet(env_run) -> None:
    _, out, _, params = env_run
    row = pd.read_parquet(out / "extraction.parquet").iloc[7].to_dict()
    messages = render_trajectory_messages(row, params, "office")
    assert messages[-1]["content"] == row["actions"][-1]
    sft = pd.read_parquet(out / "sft.parquet").iloc[0].to_dict()
    assert len(render_sft_messages(sft, params, "office")) == 30


def test_class_balance_metrics(env_run) -> None:
    _, _, metrics, _ = env_run
    balance = json.loads(metrics.read_text())
    for label in ("mold", "gold", "path"):
        fractions = balance["final_direction_fraction"][label]
        assert set(fractions) == {"N", "E", "S", "W"}
        assert sum(fractions.values()) == pytest.approx(1.0)
        assert sum(balance["final_direction_count"][label].values()) == 30
    assert balance["n_trajectories"] == 90
    assert balance["split_count"]["heldout"] + balance["split_count"]["train"] == 90
    assert balance["mazes_drawn"] >= 90


def test_eval_and_sft_tables(env_run) -> None:
    _, out, _, _ = env_run
    evals = pd.read_parquet(out / "eval_mazes.parquet")
    assert list(evals["maze_seed"]) == [900000, 900001, 900002]
    assert (evals["optimal_return"] >= evals["greedy_return"] - 1e-9).all()
    sft = pd.read_parquet(out / "sft.parquet")
    assert len(sft) == 4 and (sft["actions"].map(len) == 15).all()


def test_unknown_mapping_exits_nonzero(tmp_path: Path) -> None:
    rc = main(
        ["env", "--mapping", "nope", "--out", str(tmp_path), "--metrics", str(tmp_path / "m")]
    )
    assert rc == 2 and not any(tmp_path.iterdir())
