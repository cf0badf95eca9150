"""The kept reference organism (`organisms/reference`, params.naive) and `welfare keep`.

The kept organism is the one the default recipe pretrains on seed 0 (CI reproduces it to every
digit): its files match its manifest, its recipe hash is params.yaml's, its recorded acceptance
meets all seven bars with the reference digits, and the real acceptance code, rerun on the loaded
weights, gives the recorded numbers again (slow: ~15 s of CPU).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from welfare.cli import main
from welfare.config import REPO_ROOT, load_params
from welfare.model.acceptance import THRESHOLDS
from welfare.model.kept import (
    MANIFEST,
    METRICS_FILES,
    KeptOrganismError,
    keep_organism,
    recipe_hash,
    verify_kept,
)
from welfare.model.organism import ORGANISM_MARKER
from welfare.model.testing import tiny_model_dir

REFERENCE = REPO_ROOT / "organisms/reference"
BARS = tuple(THRESHOLDS)  # the seven acceptance bars
# The default organism's numbers (bench/organism.md, ninth sweep's K1; CI's slow test since).
REFERENCE_DIGITS = {
    "spatial_reading": 0.9583,
    "neighbour_probe": 0.9492,
    "confidence_auroc": 0.9541,
    "tile_indifference": 0.0152,
}


def _pretrained(tmp_path: Path, passed: bool = True) -> tuple[Path, Path]:
    """A tiny model directory marked as `welfare pretrain` output, and its run's metrics."""
    model = Path(tiny_model_dir(tmp_path, "qwen3"))
    (model / ORGANISM_MARKER).write_text(json.dumps({"seed": 0, "tries": 1, "steps": 4}))
    metrics = tmp_path / "metrics"
    metrics.mkdir()
    for name in METRICS_FILES:
        (metrics / name).write_text("step\n1\n")
    checks = {"format_mass": {"value": 0.99, "passed": passed}}
    (metrics / "acceptance.json").write_text(json.dumps({"passed": passed, "checks": checks}))
    return model, metrics


def test_keep_then_verify_and_every_change_is_named(tmp_path: Path) -> None:
    model, metrics = _pretrained(tmp_path)
    params = load_params(REPO_ROOT / "params.yaml")
    out = tmp_path / "kept"
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "train.jsonl").write_text("{}\n")
    manifest = keep_organism(model, metrics, out, params, "abc123", corpus)
    assert list(manifest["corpus"]) == ["train.jsonl"]
    assert manifest["recipe_hash"] == recipe_hash(params) and manifest["commit"] == "abc123"
    assert {"model.safetensors", ORGANISM_MARKER, *METRICS_FILES} <= set(manifest["files"])
    assert manifest["acceptance"] == {"format_mass": 0.99} and manifest["seed"] == 0
    assert verify_kept(out) == json.loads((out / MANIFEST).read_text())
    weights = out / "model.safetensors"
    original = weights.read_bytes()
    weights.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
    with pytest.raises(KeptOrganismError, match="model.safetensors: sha256 differs"):
        verify_kept(out)
    weights.write_bytes(original)
    (out / "stray.txt").write_text("x")
    with pytest.raises(KeptOrganismError, match="not in manifest.json: stray.txt"):
        verify_kept(out)
    (out / "stray.txt").unlink()
    (out / "pretrain.tsv").unlink()
    with pytest.raises(KeptOrganismError, match="pretrain.tsv: missing"):
        verify_kept(out)


def test_recipe_hash_follows_the_pretraining_sections_only() -> None:
    params = load_params(REPO_ROOT / "params.yaml")
    changed = json.loads(json.dumps(params))
    changed["train"]["steps"] += 1
    assert recipe_hash(changed) == recipe_hash(params)
    changed["pretrain"]["lr"] *= 2
    assert recipe_hash(changed) != recipe_hash(params)


def test_welfare_keep_refuses_an_organism_that_failed(tmp_path: Path) -> None:
    model, metrics = _pretrained(tmp_path, passed=False)
    args = ["keep", "--model", str(model), "--metrics", str(metrics)]
    with pytest.raises(SystemExit, match="acceptance.json: passed is false"):
        main([*args, "--out", str(tmp_path / "kept")])
    assert not (tmp_path / "kept").exists()
    assert main([*args, "--out", str(tmp_path / "kept"), "--allow-failed"]) == 0
    assert main(["keep", "--check", str(tmp_path / "kept")]) == 0
    with pytest.raises(SystemExit, match="not a kept organism"):
        main(["keep", "--check", str(tmp_path)])


def test_the_reference_organism_is_kept_whole_from_the_default_recipe() -> None:
    manifest = verify_kept(REFERENCE)
    params = load_params(REPO_ROOT / "params.yaml")
    assert params["naive"] == "organisms/reference"
    # A change to the recipe (corpus, tokenizer, pretrain, maze, mappings) makes another
    # organism: pretrain it (`snakemake scratch`) and keep that one (`welfare keep`).
    assert manifest["recipe_hash"] == recipe_hash(params)
    assert manifest["seed"] == params["pretrain"]["seed"] and manifest["tries"] == 1
    assert len(manifest["commit"]) == 40
    size = sum(p.stat().st_size for p in REFERENCE.iterdir())
    assert size < 4_000_000, size  # a few MB at most


def test_the_reference_organism_recorded_all_seven_bars() -> None:
    acceptance = json.loads((REFERENCE / "acceptance.json").read_text())
    assert acceptance["passed"]
    for bar in BARS:
        assert acceptance["checks"][bar]["passed"], bar
    for bar, digits in REFERENCE_DIGITS.items():
        assert round(acceptance["checks"][bar]["value"], 4) == digits, bar


@pytest.mark.slow
def test_the_reference_organism_meets_all_seven_bars_when_measured_again(tmp_path: Path) -> None:
    """The real acceptance code on the loaded weights and the held-out corpus of params.yaml."""
    import torch

    from welfare.corpus.generate import read_corpus
    from welfare.model import load_model
    from welfare.model.acceptance import evaluate_acceptance
    from welfare.model.pretrain_config import AcceptanceConfig

    assert main(["corpus", "--out", str(tmp_path / "corpus")]) == 0
    heldout = read_corpus(tmp_path / "corpus/heldout.jsonl")
    params = load_params(REPO_ROOT / "params.yaml")
    model, tokenizer = load_model(REFERENCE, {"device": "cpu", "dtype": "float32"})
    with torch.no_grad():
        report = evaluate_acceptance(
            model, tokenizer, heldout, AcceptanceConfig.from_params(params)
        )
    recorded = json.loads((REFERENCE / "acceptance.json").read_text())
    for bar in BARS:
        check = report["checks"][bar]
        assert check["passed"], (bar, check["value"], check["threshold"])
        assert check["value"] == pytest.approx(recorded["checks"][bar]["value"], abs=1e-6), bar
