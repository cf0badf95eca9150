"""DVC as users drive it, offline, on a small DAG (env, corpus -> tokenizer, tiny overlay merged
into params.yaml): `dvc repro` runs, a second `dvc repro` does nothing, `dvc exp run -S` reruns
exactly the stages whose params changed, Snakemake agrees the outputs are current, and after a
`dvc checkout` that leaves outputs older than their inputs, `snakemake --touch` is the remedy."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest
import workflow_helpers as wh
import yaml

from welfare.config import deep_merge

pytestmark = pytest.mark.slow
TARGETS = ["env@office", "tokenizer"]
SMK_TARGETS = ["data/env/office/extraction.parquet", "models/tokenizer"]


def _ran(out: str) -> set[str]:
    return set(re.findall(r"Running stage '([^']+)'", out))


def _snakemake_pending(root: Path) -> str:
    return wh.run(["snakemake", "-n", "--nolock", "--cores", "1", *SMK_TARGETS], root)


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = wh.copy_workflow(tmp_path_factory.mktemp("dvc"))
    params = yaml.safe_load((root / "params.yaml").read_text(encoding="utf-8"))
    tiny = yaml.safe_load((wh.REPO / "tests/workflow/tiny.yaml").read_text(encoding="utf-8"))
    (root / "params.yaml").write_text(
        yaml.safe_dump(deep_merge(params, tiny), allow_unicode=True, sort_keys=False),
        encoding="utf-8",
    )
    wh.run(["git", "add", "-A"], root)
    wh.run(["git", "commit", "-qm", "workflow"], root)
    return root


def test_repro_then_nothing_to_do(repo: Path) -> None:
    first = wh.run(["dvc", "repro", *TARGETS], repo)
    assert _ran(first) == {"env@office", "corpus", "tokenizer"}, first
    assert (repo / "models/tokenizer/tokenizer.json").exists()
    second = wh.run(["dvc", "repro", *TARGETS], repo)
    assert _ran(second) == set(), second
    assert "up to date" in wh.run(["dvc", "status", *TARGETS], repo)
    assert "metrics/env/office/class_balance.json" in wh.run(["dvc", "metrics", "show"], repo)
    # Snakemake sees DVC's outputs as current too (same files, same commands).
    assert "Nothing to be done" in _snakemake_pending(repo)
    wh.run(["git", "add", "-A"], repo)
    wh.run(["git", "commit", "-qm", "baseline"], repo)


def test_exp_run_changes_the_right_stages(repo: Path) -> None:
    out = wh.run(["dvc", "exp", "run", "-S", "corpus.seed=1", *TARGETS], repo)
    assert _ran(out) == {"corpus", "tokenizer"}, out  # env@office does not read `corpus`
    out = wh.run(["dvc", "exp", "run", "-S", "tokenizer.vocab_size=500", *TARGETS], repo)
    assert _ran(out) == {"tokenizer"}, out
    assert "corpus.seed" in wh.run(["dvc", "exp", "show", "--no-pager", "--csv"], repo)


def test_touch_after_checkout(repo: Path) -> None:
    # Back to the committed baseline: params.yaml and dvc.lock from git, outputs from the cache.
    wh.run(["git", "checkout", "--", "params.yaml", "dvc.lock"], repo)
    wh.run(["dvc", "checkout", "env@office", "corpus", "tokenizer"], repo)
    assert "up to date" in wh.run(["dvc", "status", *TARGETS], repo)
    # `dvc checkout` writes files in no particular order: an input can end up newer than the
    # output made from it. Force that case, in the past (a future mtime would trip Snakemake's
    # clock-skew check on the touched output): the tokenizer is older than the corpus.
    now = time.time()
    tokenizer = repo / "models/tokenizer"
    for path in [*tokenizer.rglob("*"), tokenizer]:
        os.utime(path, (now - 100, now - 100))
    for path in (repo / "data/corpus").iterdir():
        os.utime(path, (now - 50, now - 50))
    assert "tokenizer" in _snakemake_pending(repo)  # Snakemake would retrain for nothing
    wh.run(["snakemake", "--touch", "--nolock", "--cores", "1", *SMK_TARGETS], repo)
    assert "Nothing to be done" in _snakemake_pending(repo)
    assert "up to date" in wh.run(["dvc", "status", *TARGETS], repo)  # contents untouched
