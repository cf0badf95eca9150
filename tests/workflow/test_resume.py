"""A training job killed under Snakemake resumes with its whole curve (issue 24, item 3).

Snakemake deletes a failed job's declared outputs (train.tsv, eval.tsv among them); the
checkpoints beside them are not declared and survive. The rerun resumes from the newest one and
must still write every step's row and every evaluation, identical to an uninterrupted run."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import workflow_helpers as wh
import yaml

from welfare.model.testing import tiny_model_dir

pytestmark = pytest.mark.slow
STEPS, EVERY = 60, 10


def _overlay(root: Path, base: Path) -> Path:
    train = {
        "steps": STEPS,
        "mazes_per_step": 1,
        "group_size": 2,
        "micro_batch": 2,
        "checkpoint": {"every": EVERY},
        "eval": {"every": EVERY, "n_mazes": 2, "sampled_group": 0},
    }
    row = {"base": str(base), "algorithm": "reinforce", "adapter": "full", "mapping": "office"}
    overlay = root / "resume.yaml"
    overlay.write_text(
        yaml.safe_dump(
            {
                "maze": {"turns": 3},
                "env": {"extraction": {"per_class": 4}, "eval": {"n_mazes": 2}},
                "train": train,
                "organisms": {"tiny": row},
            }
        )
    )
    return overlay


def _snakemake(root: Path, overlay: Path) -> list[str]:
    return [
        "snakemake", "metrics/tiny/eval.json", "--cores", "1",
        "--workflow-profile", "workflow/profiles/default",
        "--configfile", "params.yaml", overlay.name,
    ]  # fmt: skip


def _rows(path: Path) -> list[dict[str, str]]:
    """The TSV's rows without the wall-clock columns (seconds, rates)."""
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    return [{k: v for k, v in r.items() if "seconds" not in k and "per_s" not in k} for r in rows]


def test_a_killed_train_job_reruns_with_its_whole_curve(tmp_path: Path) -> None:
    base = tiny_model_dir(tmp_path, "qwen3")
    killed = wh.copy_workflow(tmp_path / "killed")
    cmd = _snakemake(killed, _overlay(killed, base))
    proc = subprocess.Popen(
        cmd, cwd=killed, env=wh.env(), start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    checkpoint = killed / f"models/tiny/step-{2 * EVERY:04d}"
    deadline = time.monotonic() + 600
    while not checkpoint.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert proc.poll() is None, "the job finished before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)  # snakemake and `welfare train` with it
    proc.wait()
    assert not (killed / "metrics/tiny/eval.json").exists()

    # A killed Snakemake leaves its lock (the user's `--unlock`); the rerun resumes from the
    # newest checkpoint.
    wh.run([*cmd, "--unlock"], killed)
    wh.run(cmd, killed, timeout=900)
    log = (killed / "logs/train/tiny.log").read_text()
    assert "resuming tiny" in log

    whole = wh.copy_workflow(tmp_path / "whole")
    wh.run(_snakemake(whole, _overlay(whole, base)), whole, timeout=900)
    for name in ("train.tsv", "eval.tsv"):
        resumed, straight = (_rows(r / "metrics/tiny" / name) for r in (killed, whole))
        assert len(straight) == (STEPS if name == "train.tsv" else STEPS // EVERY + 1), name
        assert resumed == straight, name
