"""`welfare activations`: record the block outputs of a checkpoint on the extraction trajectories.

    welfare activations --model models/grpo/final --mapping office \
        --env data/env/office/extraction.parquet --out activations/grpo/final.zarr
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

import numpy as np

from welfare import __version__
from welfare.activations.capture import (
    ActivationSettings,
    capture_to_store,
    store_order,
    weights_fingerprint,
)
from welfare.activations.render import render_chat
from welfare.config import params_hash
from welfare.env import render_trajectory_messages
from welfare.io import exclusive, read_table, remove_leftovers
from welfare.model import load_model

log = logging.getLogger(__name__)

COORD_COLUMNS = ("trajectory_id", "maze_seed", "n_steps", "final_tile", "split", "render_seed")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="HF directory of the checkpoint")
    parser.add_argument("--mapping", required=True, help="tile mapping name (params.mappings)")
    parser.add_argument("--env", required=True, type=Path, help="extraction.parquet")
    parser.add_argument("--out", required=True, type=Path, help="activation store (.zarr)")
    parser.add_argument("--organism", default=None, help="default: the --out parent directory")
    parser.add_argument("--checkpoint", default=None, help="default: the --out file stem")
    parser.add_argument(
        "--limit",
        type=int,
        default=0,
        help="only the first N trajectories per split (smoke runs); 0 = all",
    )


def _sample_coords(table: Any) -> dict[str, np.ndarray]:
    coords = {name: table[name].to_numpy() for name in COORD_COLUMNS}
    coords["final_tile"] = coords["final_tile"].astype(str).astype(object)
    coords["split"] = coords["split"].astype(str).astype(object)
    coords["action"] = np.array([list(a)[-1] for a in table["actions"]], dtype=object)
    return coords


def run(args: argparse.Namespace, params: dict[str, Any]) -> int:
    # One writer of the store (and its partial sibling) at a time, refused before any work.
    with exclusive(args.out):
        remove_leftovers(args.out.parent, args.out.name)
        return _record(args, params)


def _record(args: argparse.Namespace, params: dict[str, Any]) -> int:
    import torch
    from tqdm.auto import tqdm

    settings = ActivationSettings.from_params(params["activations"])
    if params["runtime"]["threads"]:
        torch.set_num_threads(int(params["runtime"]["threads"]))
    table = read_table(args.env, required=(*COORD_COLUMNS, "actions"))
    if args.limit:
        table = table.groupby("split", sort=False).head(args.limit)
    model, tokenizer = load_model(args.model, params["runtime"])
    chats = [
        render_chat(tokenizer, render_trajectory_messages(row, params, args.mapping))
        for row in tqdm(table.to_dict("records"), desc="render", unit="trajectory")
    ]
    order = store_order(table["split"].tolist(), [c.n_tokens for c in chats])
    chats = [chats[i] for i in order]
    coords = {k: v[order] for k, v in _sample_coords(table).items()}
    coords["n_tokens"] = np.array([c.n_tokens for c in chats])
    attrs = {
        "model": str(args.model),
        "model_revision": weights_fingerprint(args.model),
        "organism": args.organism or args.out.parent.name,
        "checkpoint": args.checkpoint or args.out.stem,
        "mapping": args.mapping,
        "env_file": str(args.env),
        "params_hash": params_hash(params, ["maze", "mappings", "env", "activations"]),
        "welfare_version": __version__,
    }
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    capture_to_store(model, chats, coords, args.out, settings, attrs, pad_id=pad_id)
    log.info("wrote %s (%d samples)", args.out, len(chats))
    return 0
