"""bench/paper_scale.py and its device script, at the small CPU shape: every section runs our
code and lands in the JSON and the table; a failing section does not lose the others."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench import paper_scale

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("paper_scale")
    status = paper_scale.main(["--shape", "small", "--device", "cpu", "--out", str(out)])
    assert "aten::" in (out / "paper_scale_profile.txt").read_text()
    return status, json.loads((out / "paper_scale.json").read_text())


def test_every_section_runs_the_pipelines_code(small_run, capsys):
    status, results = small_run
    assert status == 0
    sections = results["sections"]
    assert {k: v["status"] for k, v in sections.items()} == dict.fromkeys(
        ("rl_step", "recording", "steering", "rl_step_plain", "profile"), "ok"
    )
    assert sections["profile"]["episodes"] == 4 and sections["profile"]["top"]  # one maze
    meta = results["meta"]
    assert meta["shape"] == "small" and meta["model"]["layers"] == 3
    assert meta["train"]["lora"]["rank"] == 32 and meta["train"]["algorithm"] == "drgrpo"
    assert [len(sections[n]["steps"]) for n in ("rl_step", "rl_step_plain")] == [2, 1]
    for name in ("rl_step", "rl_step_plain"):
        step = sections[name]
        assert step["episodes"] == 8 and step["rollout_batch"] == 6  # played in groups of 6 + 2
        assert step["rollout"]["s"] > 0 and step["update"]["s"] > 0
        assert 250 <= step["tokens_per_episode"] <= 330  # 4 turns of ~77 tokens
    recording = sections["recording"]
    assert recording["trajectories"] == 15 and recording["how"].startswith("capture_to_store")
    assert recording["extrapolated_15000_s"] == pytest.approx(recording["record_s"] * 1000)
    assert sections["steering"]["off_tokens_per_s"] > 0 and sections["steering"]["on_s"]


def test_the_table_names_every_measure(small_run):
    _, results = small_run
    text = paper_scale.table(results)
    assert "RL step, plain: rollout + update" in text and "steering hook overhead" in text
    assert "not run" not in text and "failed" not in text


def test_a_failing_section_is_recorded_and_the_next_runs(tmp_path):
    run = paper_scale.Run(tmp_path, budget_s=60)

    def broken():
        raise RuntimeError("boom")

    run.section("first", broken, need_s=0)
    run.section("second", lambda: {"value": 1}, need_s=0)
    run.section("third", lambda: {"value": 2}, need_s=1e9)  # more than the budget holds
    saved = json.loads((tmp_path / "paper_scale.json").read_text())["sections"]
    assert saved["first"]["status"] == "failed" and "boom" in saved["first"]["error"]
    assert saved["second"] == saved["second"] | {"status": "ok", "value": 1}
    assert saved["third"]["status"] == "skipped"


def test_params_without_jsonschema_are_the_validated_ones(monkeypatch):
    validated = paper_scale.paper_params("paper")

    def no_jsonschema(_files):
        raise ImportError("No module named 'jsonschema'")

    monkeypatch.setattr(paper_scale, "load_params", no_jsonschema)
    params, cfg = paper_scale.paper_params("paper")
    assert cfg == validated[1] and cfg.rollout_batch == 256 and cfg.group_size == 64
    for section in ("maze", "env", "activations", "mappings"):
        assert params[section] == validated[0][section]


def test_device_script_runs_with_the_tree_alone(tmp_path):
    """What the lead runs: `bash bench/gpu_paper_scale.sh` with $OUT, no installed package."""
    env = dict(os.environ, OUT=str(tmp_path), GPU_CHECK="0", PYTHONPATH="")
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
    done = subprocess.run(
        [
            "bash",
            str(REPO / "bench/gpu_paper_scale.sh"),
            "--device",
            "cpu",
            "--sections",
            "steering",
        ],
        cwd=tmp_path,  # the script finds the repo itself
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    results = json.loads((tmp_path / "paper_scale.json").read_text())
    assert results["sections"]["steering"]["status"] == "ok"
    assert "steered generation, hook off" in (tmp_path / "paper_scale.log").read_text()
