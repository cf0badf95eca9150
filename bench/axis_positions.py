"""Inputs of the before/after check of the axis at two positions (bench/axis.md): an extraction
parquet (office, maze size 20, 400 per class, 1–5 steps) and two random-init tiny Qwen3 models
(hidden 128, 4 layers) as "final" and "naive", plus a params overlay with small chunks.

    python bench/axis_positions.py /tmp/posbench/inputs
    # then, for each code root CODE (an old checkout and this one), with PYTHONPATH=CODE:
    I=/tmp/posbench/inputs; P="--params CODE/params.yaml --params $I/small.yaml"
    welfare activations $P --model $I/final --mapping office --env $I/extraction.parquet \
        --out OUT/activations/org/final.zarr          # and naive
    welfare axis $P --trained OUT/activations/org/final.zarr \
        --naive OUT/activations/org/naive.zarr \
        --out OUT/vectors/org.nc --metrics OUT/metrics/org/axis.json
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
import yaml

from welfare.config import REPO_ROOT, load_params
from welfare.env.extraction import ExtractionSpec, assign_splits, iter_trajectories
from welfare.env.tables import extraction_columns
from welfare.maze import MazeConfig
from welfare.model.testing import tiny_model_dir


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out", type=Path)
    out = ap.parse_args().out
    out.mkdir(parents=True, exist_ok=True)
    overlay = {
        "maze": {"size": 20},
        "activations": {"batch_size": 16, "chunk_mb": 0.25, "layers_per_chunk": 1},
    }
    (out / "small.yaml").write_text(yaml.safe_dump(overlay))
    params = load_params([REPO_ROOT / "params.yaml", out / "small.yaml"])
    spec = ExtractionSpec(per_class=400, max_steps=5, heldout_fraction=0.25)
    trajectories = list(iter_trajectories(spec, MazeConfig.from_params(params["maze"])))
    splits = assign_splits(trajectories, spec.heldout_fraction, spec.seed_base)
    pd.DataFrame(extraction_columns(trajectories, splits)).to_parquet(out / "extraction.parquet")
    tiny_model_dir(out, "qwen3", hidden=128, layers=4, seed=0, name="final")
    tiny_model_dir(out, "qwen3", hidden=128, layers=4, seed=1, name="naive")


if __name__ == "__main__":
    main()
