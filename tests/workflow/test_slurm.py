"""Cluster submission against a real SLURM (slurmctld + slurmd on localhost, started by
workflow/scripts/slurm-local.sh): a small DAG submitted with `--executor slurm
--workflow-profile workflow/profiles/slurm` produces the same files as a local run."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import workflow_helpers as wh

SCRIPT = wh.REPO / "workflow/scripts/slurm-local.sh"
# env (one mapping) and corpus -> tokenizer -> pretrain (the smoke-size organism): four jobs,
# a chain of three, one of them training a model with two threads.
TARGETS = ["data/env/office/extraction.parquet", "models/naive"]
RULES = {"rule_env", "rule_corpus", "rule_tokenizer", "rule_pretrain"}
OUTPUTS = [
    "data/env/office/extraction.parquet",
    "data/env/office/eval_mazes.parquet",
    "data/env/office/sft.parquet",
    "metrics/env/office/class_balance.json",
    "data/corpus/train.jsonl",
    "data/corpus/heldout.jsonl",
    "models/tokenizer",
]

pytestmark = pytest.mark.slow


def _cluster_up() -> bool:
    if shutil.which("scontrol") is None:
        return False
    return subprocess.run(["scontrol", "ping"], capture_output=True).returncode == 0


@pytest.fixture(scope="module")
def cluster() -> None:
    """The local cluster, started if installed but not running. `.ci/run` sets
    WELFARE_REQUIRE_SLURM=1 so that a missing cluster fails there instead of skipping."""
    if not _cluster_up() and shutil.which("slurmctld"):
        subprocess.run([str(SCRIPT), "start"], check=False, capture_output=True)
    if not _cluster_up():
        if os.environ.get("WELFARE_REQUIRE_SLURM") == "1":
            pytest.fail(f"no SLURM cluster: run `{SCRIPT} up` (as root)")
        pytest.skip(f"no SLURM cluster (start one with `{SCRIPT} up`)")


def _digest(path: Path) -> dict[str, str]:
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    return {
        str(p.relative_to(path) if path.is_dir() else p.name): hashlib.sha256(
            p.read_bytes()
        ).hexdigest()
        for p in files
    }


def _snakemake(root: Path, *args: str) -> str:
    return wh.run(
        ["snakemake", "--configfile", "params.yaml", "tiny.yaml", "smoke.yaml", *args, *TARGETS],
        root,
        timeout=900,
    )


def _same_model(a: Path, b: Path) -> None:
    """Same files; weights equal up to float summation order (thread scheduling)."""
    from safetensors.numpy import load_file

    assert sorted(p.name for p in a.iterdir()) == sorted(p.name for p in b.iterdir())
    for path in a.iterdir():
        if path.suffix == ".safetensors":
            x, y = load_file(path), load_file(b / path.name)
            assert x.keys() == y.keys()
            for name in x:
                assert np.allclose(x[name], y[name], atol=1e-5), name
        elif path.is_file():
            assert path.read_bytes() == (b / path.name).read_bytes(), path.name


def test_slurm_run_equals_local_run(cluster: None, tmp_path: Path) -> None:
    local = wh.copy_workflow(tmp_path / "local", extra=[])
    slurm = wh.copy_workflow(tmp_path / "slurm", extra=[])
    for root in (local, slurm):
        for name in ("tiny.yaml", "smoke.yaml"):
            shutil.copy2(wh.REPO / "tests/workflow" / name, root / name)

    _snakemake(local, "--cores", "2", "--workflow-profile", "workflow/profiles/default")
    jobs_before = _slurm_job_ids()
    log = _snakemake(
        slurm, "--executor", "slurm", "--jobs", "4", "--workflow-profile", "workflow/profiles/slurm"
    )

    # The jobs really went through SLURM: new job ids, each COMPLETED, one sbatch log per job.
    new_jobs = {jid: state for jid, state in _slurm_job_ids().items() if jid not in jobs_before}
    assert len(new_jobs) == len(RULES), log
    assert set(new_jobs.values()) == {"COMPLETED"}, new_jobs
    logdir = slurm / ".snakemake/slurm_logs"
    rules = {p.relative_to(logdir).parts[0] for p in logdir.rglob("*.log")}
    assert rules == RULES, rules

    for out in OUTPUTS:
        assert (slurm / out).exists(), out
        assert _digest(slurm / out) == _digest(local / out), out
    _same_model(local / "models/naive", slurm / "models/naive")
    a, b = (
        json.loads((root / "metrics/naive/pretrain.json").read_text()) for root in (local, slurm)
    )
    for key in ("steps", "tokens", "n_parameters"):
        assert a[key] == b[key], key
    assert a["heldout_loss"] == pytest.approx(b["heldout_loss"], rel=1e-4)


def _slurm_job_ids() -> dict[str, str]:
    out = subprocess.run(
        ["squeue", "--states=all", "--noheader", "--format=%i|%T"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return dict(line.split("|", 1) for line in out.split())
