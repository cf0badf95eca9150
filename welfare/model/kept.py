"""The kept reference organism: a maze-naive organism kept in the repository with its evidence.

`params.naive` names the maze-naive organism every `base: naive` row starts from: a kept
directory (the default, `organisms/reference`: what the default recipe made on seed 0) or
`models/naive`, which the pipeline pretrains from scratch (`welfare pretrain`).

A kept directory holds the model as `welfare pretrain` wrote it (safetensors, tokenizer,
`organism.json`), the metrics of that run (`acceptance.json`, `pretrain.json`, `pretrain.tsv`,
`reading_probe.tsv`) and `manifest.json`: the sha256 of every other file, the hash of the params
sections that made it (`recipe_hash`), the commit and the software it was made with. `welfare
keep` writes one; `verify_kept` checks one against its manifest.
"""

from __future__ import annotations

import json
import platform
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from welfare.config import params_hash
from welfare.io import atomic_path, file_digest, write_json
from welfare.model.organism import ORGANISM_MARKER

# `params.naive` value that means "pretrain the organism in this run" (the pretrain rule's output).
SCRATCH = "models/naive"
MANIFEST = "manifest.json"
# The pretraining run's metrics kept beside the weights (the report's pretraining figures).
METRICS_FILES = ("acceptance.json", "pretrain.json", "pretrain.tsv", "reading_probe.tsv")
# The params sections the scratch recipe reads (corpus, tokenizer and pretrain stages).
RECIPE_SECTIONS = ("corpus", "tokenizer", "pretrain", "maze", "mappings")


class KeptOrganismError(ValueError):
    """A kept organism that is missing, incomplete or differs from its manifest (one line)."""


def recipe_hash(params: Mapping[str, Any]) -> str:
    """The hash of the params sections that determine the pretrained organism."""
    return params_hash(params, RECIPE_SECTIONS)


def is_scratch(params: Mapping[str, Any]) -> bool:
    """Whether this run pretrains its maze-naive organism (`naive: models/naive`)."""
    return str(params["naive"]) == SCRATCH


def naive_metrics_dir(params: Mapping[str, Any]) -> Path:
    """Where the maze-naive organism's pretraining metrics are: `metrics/naive` when this run
    pretrains it, else the kept directory itself."""
    return Path("metrics/naive") if is_scratch(params) else Path(params["naive"])


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def sha256_file(path: Path) -> str:
    return file_digest(path, "sha256")


def _software() -> dict[str, str]:
    import numpy
    import torch
    import transformers

    return {
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "numpy": numpy.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "processor": platform.processor() or "unknown",
    }


def keep_organism(
    model_dir: str | Path,
    metrics_dir: str | Path,
    out: str | Path,
    params: Mapping[str, Any],
    commit: str,
    corpus_dir: str | Path | None = None,
) -> dict[str, Any]:
    """Copy a pretrained organism and its run's metrics to `out` with a manifest; return it.
    With `corpus_dir`, the manifest also records the sha256 of the corpus it was trained on (a
    pure function of the params: where another machine's corpus differs, so does its organism)."""
    model_dir, metrics_dir = Path(model_dir), Path(metrics_dir)
    if not (model_dir / ORGANISM_MARKER).is_file():
        raise KeptOrganismError(f"{model_dir}: not from `welfare pretrain` (no {ORGANISM_MARKER})")
    missing = [name for name in METRICS_FILES if not (metrics_dir / name).is_file()]
    if missing:
        raise KeptOrganismError(f"{metrics_dir}: missing {', '.join(missing)}")
    acceptance = read_json(metrics_dir / "acceptance.json")
    with atomic_path(out) as tmp:
        tmp.mkdir(parents=True)
        for path in sorted(model_dir.iterdir()):
            if path.is_file():
                shutil.copy2(path, tmp / path.name)
        for name in METRICS_FILES:
            shutil.copy2(metrics_dir / name, tmp / name)
        organism = read_json(tmp / ORGANISM_MARKER)
        manifest = {
            "what": "the maze-naive organism the default recipe pretrains (welfare pretrain)",
            "commit": commit,
            "recipe_hash": recipe_hash(params),
            "recipe_sections": list(RECIPE_SECTIONS),
            "seed": organism.get("seed"),
            "tries": organism.get("tries"),
            "steps": organism.get("steps"),
            "acceptance_passed": bool(acceptance.get("passed")),
            "acceptance": {k: c.get("value") for k, c in acceptance.get("checks", {}).items()},
            "software": _software(),
            "corpus": {p.name: sha256_file(p) for p in sorted(Path(corpus_dir).glob("*.jsonl"))}
            if corpus_dir is not None
            else {},
            "files": {p.name: sha256_file(p) for p in sorted(tmp.iterdir()) if p.name != MANIFEST},
        }
        write_json(tmp / MANIFEST, manifest)
    return manifest


def verify_kept(path: str | Path) -> dict[str, Any]:
    """The manifest of a kept organism whose every file matches it; KeptOrganismError otherwise."""
    path = Path(path)
    if not (path / MANIFEST).is_file():
        raise KeptOrganismError(f"{path}: not a kept organism ({MANIFEST} missing)")
    manifest = read_json(path / MANIFEST)
    for name, digest in manifest["files"].items():
        if not (path / name).is_file():
            raise KeptOrganismError(f"{path / name}: missing (listed in {MANIFEST})")
        if sha256_file(path / name) != digest:
            raise KeptOrganismError(f"{path / name}: sha256 differs from {MANIFEST}")
    extra = sorted(
        p.name for p in path.iterdir() if p.name not in manifest["files"] and p.name != MANIFEST
    )
    if extra:
        raise KeptOrganismError(f"{path}: files not in {MANIFEST}: {', '.join(extra)}")
    return manifest
