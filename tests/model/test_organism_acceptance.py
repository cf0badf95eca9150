"""The default organism against issue 3's acceptance bars: the whole organism DAG (corpus →
tokenizer → pretrain → acceptance) through the CLI on the default params.yaml, run once.

Every bar is asserted. The default seed meets all seven on this machine (the recipe met them on
seeds 0, 1,001 and 3, bench/organism.md, eighth and ninth sweeps); reading is still a matter of
odds over seeds (a seed whose four-clause "where" merges two directions misses spatial reading),
so a failure here after a change of numerics or recipe is a measurement to look into
(`metrics/naive/reading_probe.tsv` shows when each skill formed), not noise to retry.
"""

from __future__ import annotations

import json

import pytest

from welfare.cli import main

BARS = (
    "format_mass",
    "spatial_reading",
    "neighbour_probe",
    "tile_indifference",
    "self_report_valence",
    "confidence_auroc",
    "refusal",
)


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("organism")
    corpus, tokenizer = root / "corpus", root / "tokenizer"
    model, metrics = root / "naive", root / "metrics"
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
    return json.loads((metrics / "acceptance.json").read_text())


@pytest.mark.slow
@pytest.mark.parametrize("check", BARS)
def test_default_organism_meets_the_bar(report, check: str) -> None:
    result = report["checks"][check]
    assert result["passed"], (check, result["value"], result["threshold"])


@pytest.mark.slow
def test_default_organism_reads_what_is_in_each_direction(report) -> None:
    assert report["checks"]["spatial_reading"]["what"] >= 0.95
