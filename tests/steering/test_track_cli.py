"""`welfare track` end to end on tiny models, a written corpus, vectors and trajectories."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from tests.steering.conftest import write_corpus, write_extraction, write_vectors
from welfare.cli import main
from welfare.config import load_params


def track(params, vectors, model, naive, env, out, *extra: str) -> None:
    rc = main(
        [
            "track", "--params", str(params), "--vectors", str(vectors), "--model", str(model),
            "--naive-model", str(naive), "--env", str(env), "--out", str(out), *extra,
        ]
    )  # fmt: skip
    assert rc == 0


def test_track_cli(tmp_path):
    from welfare.model.testing import tiny_model_dir

    naive = tiny_model_dir(tmp_path, "qwen3", layers=2, seed=0, name="naive")
    trained = tiny_model_dir(tmp_path, "llama", layers=2, seed=1, name="trained")
    vectors = write_vectors(tmp_path / "vectors.nc", d_model=32, n_layers=2)
    corpus = write_corpus(tmp_path / "heldout.jsonl", n_per_genre=16)
    env = write_extraction(tmp_path / "extraction.parquet", load_params(), per_class=5)
    base = yaml.safe_load(Path("params.yaml").read_text(encoding="utf-8"))
    base["track"] = {"maze": {"n_per_class": 4}, "correctness": {"n_items": 12}}
    base["runtime"]["threads"] = 1
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump(base, allow_unicode=True))
    out = tmp_path / "track.json"
    track(params, vectors, trained, naive, env, out,
          "--corpus", str(corpus), "--organism", "reinforce",
          "--plots", str(tmp_path / "plots"))  # fmt: skip
    result = json.loads(out.read_text())
    assert set(result["trained"]["maze"]) == {"v_mold", "v_gold"}
    assert set(result["naive"]["maze"]) == {"v_mold", "v_gold", "u_mold", "u_gold"}
    cell = result["trained"]["maze"]["v_gold"]
    assert cell["n_gold"] == 4 and cell["n_mold"] == 4 and np.isfinite(cell["d"])
    # standardised over both classes: the pooled projections have mean 0 and SD 1
    pooled = np.array(cell["projection_sd"]["gold"] + cell["projection_sd"]["mold"])
    assert pooled.mean() == pytest.approx(0, abs=1e-3) and pooled.std(ddof=1) == pytest.approx(
        1, abs=1e-3
    )
    corr = result["naive"]["correctness"]["v_mold"]
    assert corr["n_correct"] + corr["n_incorrect"] == 12
    assert [t["tertile"] for t in corr["tertiles"]] == [0, 1, 2]
    assert (tmp_path / "plots" / "track_maze_naive.png").stat().st_size > 0


def _builtin_run(tmp_path: Path, n_items: int, max_new_tokens: int) -> tuple[Path, Path]:
    """Params (built-in correctness items, 3 maze trajectories a class) and trajectories."""
    base = load_params()
    env = write_extraction(tmp_path / "extraction.parquet", base, per_class=5)
    correctness = {"source": "builtin", "n_items": n_items, "answer_max_new_tokens": max_new_tokens}
    params = {
        "runtime": {**base["runtime"], "threads": 1},
        "track": {"maze": {"n_per_class": 3}, "correctness": correctness},
    }
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params, allow_unicode=True))
    return path, env


def test_track_cli_builtin_correctness_needs_no_corpus(tmp_path, monkeypatch):
    from welfare.model.testing import tiny_model_dir

    naive = tiny_model_dir(tmp_path, "llama", layers=2, seed=0, name="naive")
    vectors = write_vectors(tmp_path / "vectors.nc", d_model=32, n_layers=2)
    path, env = _builtin_run(tmp_path, n_items=8, max_new_tokens=4)
    monkeypatch.chdir(tmp_path)  # no data/corpus/heldout.jsonl to fall back on
    out = tmp_path / "track.json"
    track(path, vectors, naive, naive, env, out, "--mapping", "office")
    result = json.loads(out.read_text())
    assert result["correctness_source"] == "builtin"
    corr = result["naive"]["correctness"]["v_gold"]
    assert corr["n_correct"] + corr["n_incorrect"] == 8
    # the rate is the model's own greedy answers graded against the built-in answers
    assert 0 <= result["naive"]["correctness_rate"] <= 1


def test_the_maze_is_read_at_the_position_the_vectors_come_from(tmp_path, monkeypatch):
    """Vectors extracted at the decision token (axis.steer_position: decision) are projected on
    the maze trajectories' decision token, not on their last token (the letter)."""
    import welfare.steering.track_stage as stage
    from welfare.model.testing import tiny_model_dir

    naive = tiny_model_dir(tmp_path, "llama", layers=2, seed=0, name="naive")
    path, env = _builtin_run(tmp_path, n_items=4, max_new_tokens=2)
    seen = []
    real = stage.block_activations

    def spy(model, tokenizer, chats, layers, position, batch_size=32):
        seen.append(position)
        return real(model, tokenizer, chats, layers, position, batch_size)

    monkeypatch.setattr(stage, "block_activations", spy)
    sds = {}
    for position in ("letter", "decision"):
        vectors = write_vectors(tmp_path / f"{position}.nc", 32, 2, position=position)
        out = tmp_path / f"{position}.json"
        track(path, vectors, naive, naive, env, out, "--mapping", "office")
        result = json.loads(out.read_text())
        assert result["maze_position"] == position
        sds[position] = result["naive"]["maze"]["v_gold"]["projection_sd"]["gold"]
    # per run: maze then correctness, for the trained and then the naive model
    assert seen[:4] == ["last", "assistant_template"] * 2
    assert seen[4:] == [("decision",), "assistant_template"] * 2
    assert not np.allclose(sds["letter"], sds["decision"])


def test_track_without_a_mapping_is_a_one_line_error(tmp_path, capsys):
    """No --organism and no --mapping: no silent fallback to a default mapping."""
    rc = main(
        [
            "track", "--vectors", str(tmp_path / "v.nc"), "--model", "m", "--naive-model", "n",
            "--out", str(tmp_path / "track.json"),
        ]
    )  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert rc == 1 and "\n" not in err
    assert "no tile mapping" in err and "--organism" in err and "--mapping" in err
    assert not (tmp_path / "track.json").exists()
