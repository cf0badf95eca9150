"""dvc.yaml and the Snakemake rules describe the same graph: stage names, commands, deps, outs,
params and edges, as `snakemake -n -p` and DVC (`dvc dag`) print them. A deliberate mismatch in
either file must be caught."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import workflow_helpers as wh


@pytest.fixture(scope="module")
def snakemake_side() -> dict[str, wh.Stage]:
    return wh.snakemake_stages(wh.REPO)


@pytest.fixture(scope="module")
def workflow_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return wh.copy_workflow(tmp_path_factory.mktemp("sync"))


def _diffs(root: Path, snakemake_side: dict[str, wh.Stage]) -> list[str]:
    stages, edges = wh.dvc_stages(root)
    return wh.differences(snakemake_side, stages, wh.snakemake_edges(snakemake_side), edges)


def test_dvc_and_snakemake_agree(snakemake_side: dict[str, wh.Stage]) -> None:
    assert "report" in snakemake_side and "train@reinforce" in snakemake_side
    assert _diffs(wh.REPO, snakemake_side) == []
    # The graph compared is the one `dvc dag` prints.
    assert wh.dvc_edges(wh.REPO) == wh.dvc_stages(wh.REPO)[1]


def test_every_rule_triggers_on_its_own_params() -> None:
    # The params each rule reruns on are STAGE_PARAMS[<its own name>], the table compared above.
    for smk in (wh.REPO / "workflow/rules").glob("*.smk"):
        for rule, body in re.findall(r"^rule (\w+):\n((?:    .*\n|\n)+)", smk.read_text(), re.M):
            if "shell:" in body:
                assert f'values=stage_params("{rule}")' in body, f"{smk.name}: rule {rule}"


MISMATCHES = [
    # (what is broken, text in dvc.yaml, replacement, the stage that must be reported)
    (
        "command",
        "--mapping ${key} --out data/env/${key}",
        "--mapping ${key} --out data/env/x",
        "env@office",
    ),
    ("dep", "        - data/env/${item.mapping}/sft.parquet\n", "", "train@reinforce"),
    (
        "out",
        "    outs:\n      - models/tokenizer\n",
        "    outs:\n      - models/tok\n",
        "tokenizer",
    ),
    (
        "params",
        "        - activations\n        - mappings.${item.mapping}\n"
        "        - organisms.${key}\n      outs:\n        - activations/${key}/final.zarr",
        "        - mappings.${item.mapping}\n        - organisms.${key}\n"
        "      outs:\n        - activations/${key}/final.zarr",
        "activations_final@reinforce",
    ),
    ("stage", "  corpus:\n", "  corpora:\n", "corpus"),
]


@pytest.mark.parametrize("what,old,new,stage", MISMATCHES, ids=[m[0] for m in MISMATCHES])
def test_a_deliberate_dvc_mismatch_fails(
    workflow_copy: Path,
    snakemake_side: dict[str, wh.Stage],
    what: str,
    old: str,
    new: str,
    stage: str,
) -> None:
    original = (wh.REPO / "dvc.yaml").read_text()
    assert original.count(old) == 1, f"test needs updating: {old!r} not unique in dvc.yaml"
    (workflow_copy / "dvc.yaml").write_text(original.replace(old, new))
    try:
        diffs = _diffs(workflow_copy, snakemake_side)
    finally:
        (workflow_copy / "dvc.yaml").write_text(original)
    assert any(d.startswith(stage) for d in diffs), diffs


@pytest.mark.slow  # one more snakemake start-up (~6 s on the shared CI machine)
def test_a_deliberate_rule_mismatch_fails(workflow_copy: Path) -> None:
    # A rule reading one more file than its DVC stage declares.
    rules = workflow_copy / "workflow/rules/axis.smk"
    original = rules.read_text()
    rules.write_text(
        original.replace(
            'naive="activations/{organism}/naive.zarr",',
            'naive="activations/{organism}/naive.zarr",\n'
            '        env="data/env/office/sft.parquet",',
        )
    )
    try:
        sm = wh.snakemake_stages(workflow_copy)
        diffs = _diffs(workflow_copy, sm)
    finally:
        rules.write_text(original)
    assert any(d.startswith("axis@reinforce: deps differ") for d in diffs), diffs
