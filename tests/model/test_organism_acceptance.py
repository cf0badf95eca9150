"""The default organism meets issue 3's acceptance bars: the whole organism DAG (corpus →
tokenizer → pretrain → acceptance) through the CLI on the default params.yaml."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from welfare.cli import main


@pytest.mark.slow
def test_default_organism_meets_the_acceptance_bars(tmp_path: Path) -> None:
    corpus, tokenizer = tmp_path / "corpus", tmp_path / "tokenizer"
    model, metrics = tmp_path / "naive", tmp_path / "metrics"
    assert main(["corpus", "--out", str(corpus)]) == 0
    assert main(["tokenizer", "--corpus", str(corpus), "--out", str(tokenizer)]) == 0
    assert (
        main(
            [
                "pretrain",
                "--corpus",
                str(corpus),
                "--tokenizer",
                str(tokenizer),
                "--out",
                str(model),
                "--metrics",
                str(metrics),
            ]
        )
        == 0
    )
    report = json.loads((metrics / "acceptance.json").read_text())
    failed = {
        name: (check["value"], check["threshold"])
        for name, check in report["checks"].items()
        if not check["passed"]
    }
    assert not failed, f"acceptance bars missed: {failed}"
