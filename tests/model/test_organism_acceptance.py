"""The default organism against issue 3's acceptance bars: the whole organism DAG (corpus →
tokenizer → pretrain → acceptance) through the CLI on the default params.yaml, run once.

The default seed meets the reading bars (spatial reading, neighbour probe) on this machine, but
they are a matter of odds over seeds and numerics (bench/organism.md: four-clause "where" merges
two directions in some runs; the neighbour probe needs the rule transcripts to be learned in
the last 2,000 steps), and the confidence AUROC is met only with the judgment phase of
params/judgment.yaml (bench/organism.md, eighth sweep), not by the default; each is carried as a
non-strict expected failure of its own, so that CI stays meaningful for the bars that are met
and reports XPASS per check that is reached. "What" is asserted on its own.
"""

from __future__ import annotations

import json

import pytest

from welfare.cli import main

MET = ("format_mass", "tile_indifference", "self_report_valence", "refusal")
NOT_YET = ("spatial_reading", "neighbour_probe", "confidence_auroc")


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


def _failed(report: dict, names: tuple[str, ...]) -> dict:
    return {
        n: (report["checks"][n]["value"], report["checks"][n]["threshold"])
        for n in names
        if not report["checks"][n]["passed"]
    }


@pytest.mark.slow
def test_default_organism_meets_format_indifference_valence_and_refusal_bars(report) -> None:
    assert not _failed(report, MET)


@pytest.mark.slow
def test_default_organism_reads_what_is_in_each_direction(report) -> None:
    assert report["checks"]["spatial_reading"]["what"] >= 0.95


@pytest.mark.slow
@pytest.mark.parametrize(
    "check",
    [
        pytest.param(
            name,
            marks=pytest.mark.xfail(
                reason=f"{name} not yet reliable: bench/organism.md", strict=False
            ),
        )
        for name in NOT_YET
    ],
)
def test_default_organism_reads_its_prompt_and_knows_when_it_is_right(report, check: str) -> None:
    assert not _failed(report, (check,))
