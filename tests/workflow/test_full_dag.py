"""The whole default DAG, corpus to report, through Snakemake with the smoke overlay (tiny sets,
two RL steps) from the kept organism (params.naive): every stage of every organism of the table
runs for real, nothing pretrains, and the report shows the figures whose metrics the stages
wrote; a second run has nothing to do."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import workflow_helpers as wh

pytestmark = pytest.mark.slow
OVERLAYS = ["params.yaml", "tiny.yaml", "smoke.yaml"]


def test_full_dag_builds_the_report(tmp_path: Path) -> None:
    root = wh.copy_workflow(tmp_path / "run")
    for name in ("tiny.yaml", "smoke.yaml"):
        shutil.copy2(wh.REPO / "tests/workflow" / name, root / name)
    args = [
        "snakemake",
        "--cores",
        "2",
        "--workflow-profile",
        "workflow/profiles/default",
        "--configfile",
        *OVERLAYS,
    ]
    wh.run(args, root, timeout=1800)

    html = (root / "report/index.html").read_text()
    figures = re.findall(r'<figure data-figure="([^"]+)"', html)
    assert len(figures) >= 8, figures
    assert not (root / "models/naive").exists()  # the default run does not pretrain
    table = json.loads((root / "report/metrics.json").read_text())
    assert set(table) == {"reinforce", "drgrpo", "sft", "office_swap"}
    assert all(row["heldout_greedy_return"] is not None for row in table.values())
    headline = table["reinforce"]
    # Numbers that only exist if train, activations, axis and steer really ran.
    assert headline["cos_min_trained"] is not None and -1 <= headline["cos_min_trained"] <= 1
    assert headline["cos_min_control"] is not None
    assert headline["slope_sentiment_v_gold"] is not None
    assert headline["tracking_d_trained"] is not None
    # The axis at both token positions, each beside its null (issue 20 item 5).
    assert headline["cos_min_trained_letter"] == headline["cos_min_trained"]
    assert headline["cos_min_p_trained_decision"] is not None
    for key in ("training", "cosines", "positions", "tile-means", "steering"):
        key = f"{key}-reinforce"
        block = re.search(rf'<figure data-figure="{key}".*?</figure>', html, re.S).group(0)
        assert "<svg" in block and "Not available" not in block, key
    for log in (root / "logs").rglob("*.log"):
        assert "Traceback" not in log.read_text(errors="replace"), log
    assert "Nothing to be done" in wh.run([*args, "-n"], root)
