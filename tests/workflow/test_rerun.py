"""What Snakemake reruns when params change: the jobs whose own values changed and what follows
them, never the whole DAG because another params file was named (`--configfile params.yaml x.yaml`).

The outputs are stand-ins (empty files and directories) that `snakemake --touch --forceall`
records as made by the current rules, with their params and code, so a dry run shows exactly
what the rerun triggers select. A few seconds of Snakemake start-ups, no stage runs.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import workflow_helpers as wh

# Directory outputs of the default DAG (every other output is a file).
DIRECTORIES = re.compile(r"^(models/[^/]+(/final)?|activations/.*\.zarr|report/plots)$")
DOWNSTREAM_OF_TRAIN = {"train", "activations_final", "axis", "steer", "track", "report", "all"}


def _dry_run(root: Path, *configfiles: str) -> set[str]:
    cmd = ["snakemake", "-n", "--nolock", "--cores", "1"]
    if configfiles:
        cmd += ["--configfile", *configfiles]
    out = wh.run(cmd, root)
    return set(re.findall(r"^(?:local)?rule (\w+):$", out, re.M))


def _all_current(root: Path, *configfiles: str) -> Path:
    """Stand-ins for every output of the DAG of `configfiles`, recorded as current."""
    overlays = ["--configfile", *configfiles] if configfiles else []
    out = wh.run(["snakemake", "-n", "--forceall", "--nolock", "--cores", "1", *overlays], root)
    outputs = {
        path.strip()
        for line in re.findall(r"^    output: (.*)$", out, re.M)
        for path in line.split(",")
    }
    for path in outputs:
        target = root / path
        if DIRECTORIES.match(path):
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.touch()
    wh.run(["snakemake", "--touch", "--forceall", "--nolock", "--cores", "1", *overlays], root)
    assert _dry_run(root, *configfiles) == set(), "the stand-in outputs should be current"
    return root


@pytest.fixture(scope="module")
def done(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workflow copy whose every output exists and is recorded as current (the default DAG:
    the kept reference organism, no pretraining)."""
    return _all_current(wh.copy_workflow(tmp_path_factory.mktemp("rerun")))


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same for a DAG that pretrains its organism (`naive: models/naive`)."""
    root = wh.copy_workflow(tmp_path_factory.mktemp("rerun-scratch"))
    (root / "scratch.yaml").write_text("naive: models/naive\n")
    return _all_current(root, "params.yaml", "scratch.yaml")


def test_an_overlay_changing_train_reruns_only_train_and_what_follows(done: Path) -> None:
    (done / "train_only.yaml").write_text("train: {steps: 7}\n")
    assert _dry_run(done, "params.yaml", "train_only.yaml") == DOWNSTREAM_OF_TRAIN


def test_an_overlay_repeating_the_defaults_reruns_nothing(done: Path) -> None:
    # Naming another file is no change: only values are.
    (done / "same.yaml").write_text("train: {steps: 100}\nseed: 0\n")
    assert _dry_run(done, "params.yaml", "same.yaml") == set()


def test_an_overlay_changing_the_corpus_reruns_pretraining(scratch: Path) -> None:
    (scratch / "corpus.yaml").write_text("corpus: {seed: 1}\n")
    ran = _dry_run(scratch, "params.yaml", "scratch.yaml", "corpus.yaml")
    assert {"corpus", "tokenizer", "pretrain", "train"} <= ran
    assert "env" not in ran


def test_the_kept_organism_does_not_hang_on_the_corpus(done: Path) -> None:
    # The default rows start from organisms/reference: a new corpus changes the held-out
    # prompts the steering stage reads, never the organism or its training.
    (done / "corpus.yaml").write_text("corpus: {seed: 1}\n")
    ran = _dry_run(done, "params.yaml", "corpus.yaml")
    assert "corpus" in ran
    assert not ran & {"tokenizer", "pretrain", "train", "env", "activations_final"}
