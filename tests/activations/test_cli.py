"""`welfare activations` end to end on a tiny model and real extraction trajectories."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from welfare.activations.render import render_chat
from welfare.activations.store import open_activations
from welfare.cli import main
from welfare.config import REPO_ROOT, load_params


@pytest.fixture(scope="module")
def extraction(tmp_path_factory):
    from welfare.env.extraction import ExtractionSpec, assign_splits, iter_trajectories
    from welfare.env.tables import extraction_columns
    from welfare.maze import MazeConfig

    tmp = tmp_path_factory.mktemp("env")
    overlay = tmp / "small.yaml"
    overlay.write_text(yaml.safe_dump({"maze": {"size": 20}, "activations": {"batch_size": 4}}))
    params = load_params([REPO_ROOT / "params.yaml", overlay])
    spec = ExtractionSpec(per_class=4, max_steps=3, heldout_fraction=0.25)
    trajectories = list(iter_trajectories(spec, MazeConfig.from_params(params["maze"])))
    splits = assign_splits(trajectories, spec.heldout_fraction, spec.seed_base)
    table = pd.DataFrame(extraction_columns(trajectories, splits))
    path = tmp / "extraction.parquet"
    table.to_parquet(path)
    return path, overlay, params, table


def test_cli_writes_a_complete_store_that_matches_the_oracle(tmp_path, extraction):
    from welfare.env import render_trajectory_messages
    from welfare.model import load_model
    from welfare.model.testing import tiny_model_dir

    torch.set_num_threads(1)
    env_file, overlay, params, table = extraction
    model_dir = tiny_model_dir(tmp_path, "qwen3", layers=3)
    out = tmp_path / "activations" / "org" / "final.zarr"
    rc = main(
        [
            "activations",
            "--params",
            str(REPO_ROOT / "params.yaml"),
            "--params",
            str(overlay),
            "--model",
            str(model_dir),
            "--mapping",
            "office",
            "--env",
            str(env_file),
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    ds = open_activations(out)
    assert ds.activations.dims == ("sample", "position", "layer", "d_model")
    assert ds.position.values.tolist() == ["letter", "decision"]
    assert ds.sizes["sample"] == len(table) and ds.sizes["layer"] == 3
    assert ds.activations.dtype == np.float16
    splits = [str(s) for s in ds.split.values]
    assert splits == sorted(splits, key=lambda s: s != "train")  # train first, then held-out
    assert ds.attrs["organism"] == "org" and ds.attrs["checkpoint"] == "final"
    for key in ("model_revision", "hook_site", "params_hash", "welfare_version", "positions"):
        assert ds.attrs[key]
    assert list(ds.attrs["positions"]) == ["letter", "decision"]
    by_id = table.set_index("trajectory_id")
    sample = 5
    tid = int(ds.trajectory_id.values[sample])
    row = by_id.loc[tid]
    assert str(ds.final_tile.values[sample]) == row["final_tile"]
    assert str(ds.action.values[sample]) == list(row["actions"])[-1]
    # Oracle: the stored vectors of one sample are hidden_states[l + 1] at its final letter and
    # at the decision token (the "<|assistant|>" header right before the letter).
    model, tokenizer = load_model(model_dir, params["runtime"])
    messages = render_trajectory_messages(row.to_dict() | {"trajectory_id": tid}, params, "office")
    chat = render_chat(tokenizer, messages)
    with torch.no_grad():
        hidden = model(torch.tensor([chat.input_ids]), output_hidden_states=True).hidden_states
    assert tokenizer.convert_ids_to_tokens(chat.input_ids[-2]) == "<|assistant|>"
    for name, token in (("letter", -1), ("decision", -2)):
        stored = ds.activations.sel(position=name).values[sample].astype(np.float32)
        for layer in range(2):
            np.testing.assert_allclose(
                stored[layer], hidden[layer + 1][0, token].numpy(), rtol=2e-3, atol=2e-3
            )
    assert not list(out.parent.glob(".*partial*"))
