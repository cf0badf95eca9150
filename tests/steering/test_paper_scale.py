"""`welfare steer` at paper scale: local dataset files and a local judge, all tiny."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import yaml

from tests.steering.conftest import write_vectors
from welfare.cli import main


def _datasets(root: Path) -> dict[str, str]:
    gsm = root / "gsm8k.jsonl"
    gsm.write_text(
        "\n".join(
            json.dumps({"question": f"What is {i} plus 4?", "answer": f"#### {i + 4}"})
            for i in range(4)
        )
    )
    mmlu = root / "mmlu.parquet"
    pd.DataFrame(
        {
            "question": [f"What is {i} plus 1?" for i in range(4)],
            "subject": ["high_school_mathematics"] * 3 + ["college_mathematics"],
            "choices": [[str(i), str(i + 1), str(i + 2), str(i + 3)] for i in range(4)],
            "answer": [1, 1, 1, 1],
        }
    ).to_parquet(mmlu)
    simple = root / "simpleqa.csv"
    pd.DataFrame(
        {"problem": ["Is 3 plus 4 7?", "What is 3 plus 4?"], "answer": ["True", "7"]}
    ).to_csv(simple, index=False)
    paths = {"gsm8k": str(gsm), "mmlu": str(mmlu), "simpleqa": str(simple)}
    for split in ("easy", "hard", "toxic"):
        path = root / f"or-{split}.csv"
        pd.DataFrame({"prompt": [f"Can you help me {split} {i}?" for i in range(3)]}).to_csv(
            path, index=False
        )
        paths[f"orbench_{split}"] = str(path)
    return paths


def test_paper_scale_battery_with_judge(tmp_path, tiny_model_dir):
    vectors = write_vectors(tmp_path / "vectors.nc", d_model=32, n_layers=3)
    base = yaml.safe_load(Path("params.yaml").read_text(encoding="utf-8"))
    base["runtime"]["threads"] = 1
    base["steer"] = {
        "scale": "paper",
        "alphas": [-2, 0, 2],
        "controls": ["u"],
        "concepts": ["gold"],
        "evals": ["sentiment", "backtracking", "confidence", "refusal"],
        "generation": {"max_new_tokens": 5},
        "sentiment": {"samples": 1, "association": False},
        "backtracking": {"n_prompts": 2, "samples": 1},
        "refusal": {"n_prompts": 2, "samples": 1},
        "layer_sweep": {"enabled": False},
        "paper": {
            **_datasets(tmp_path),
            "judge_model": str(tiny_model_dir),
            "judge_max_new_tokens": 4,
        },
    }
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump(base, allow_unicode=True))
    out = tmp_path / "steer.json"
    rc = main(
        [
            "steer", "--params", str(params), "--vectors", str(vectors),
            "--naive-model", str(tiny_model_dir), "--mapping", "office", "--out", str(out),
        ]
    )  # fmt: skip
    assert rc == 0
    result = json.loads(out.read_text())
    assert result["scale"] == "paper" and result["scorer"] == "judge"
    run = result["runs"]["naive"]
    assert {
        "p_true",
        "p_true_mmlu",
        "p_true_simpleqa",
        "refusal_easy",
        "refusal_hard",
        "refusal_toxic",
    } <= set(run)
    assert result["n_prompts"]["confidence"] == 3 + 2  # the college subset is left out
    assert result["n_prompts"]["refusal"] == 6
    assert set(result["agreement"]) == {"sentiment", "backtracking", "refusal"}
    assert set(result["agreement"]["refusal"]) == {"binary", "four_class", "n_unparseable_judge"}
