"""`welfare axis` end to end: synthetic stores with known truth, tiny models, a tiny corpus."""

from __future__ import annotations

import json

import numpy as np
import torch

from welfare.axis import load_vectors
from welfare.axis.cli import adapted_top_layers
from welfare.axis.synthetic import SyntheticSpec, write_synthetic_store
from welfare.cli import main
from welfare.config import REPO_ROOT, load_params

EMOTIONS = {
    "happy": (0.8, 0.6, "I feel good and happy"),
    "sad": (-0.7, 0.3, "I feel bad and sad"),
    "glad": (0.6, 0.4, "yes I am happy"),
    "upset": (-0.6, 0.8, "no I feel bad"),
}


def _corpus(path):
    rows = []
    for name, (val, aro, text) in EMOTIONS.items():
        for i in range(3):
            rows.append(
                {
                    "genre": "emotion_story",
                    "messages": [
                        {"role": "user", "content": "How are you feeling ?"},
                        {"role": "assistant", "content": f"{text} {i}"},
                    ],
                    "meta": {"emotion": name, "valence": val, "arousal": aro},
                }
            )
    for i in range(4):
        rows.append(
            {
                "genre": "arithmetic",
                "messages": [
                    {"role": "user", "content": f"What is {i} and {i} ?"},
                    {"role": "assistant", "content": f"{2 * i}"},
                ],
                "meta": {},
            }
        )
        good = i % 2 == 0
        rows.append(
            {
                "genre": "goal_narrative",
                "messages": [
                    {"role": "user", "content": "What happened ?"},
                    {
                        "role": "assistant",
                        "content": "it is right yes" if good else "it is wrong no",
                    },
                ],
                "meta": {"valence": 1 if good else -1},
            }
        )
    path.mkdir()
    (path / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_axis_cli_finds_the_planted_axis_and_not_the_noise(tmp_path):
    from welfare.model.testing import tiny_model_dir

    torch.set_num_threads(1)
    shape = dict(n_per_class=60, n_layers=3, d_model=32, positions=("letter", "decision"))
    trained = write_synthetic_store(
        tmp_path / "final.zarr",
        SyntheticSpec(**shape, signal_layers=(1, 2), strength=2.0, anisotropy=3.0, seed=11),
        chunk_mb=0.01,
    )
    naive = write_synthetic_store(
        tmp_path / "naive.zarr", SyntheticSpec(**shape, anisotropy=3.0, seed=12), chunk_mb=0.01
    )
    model = tiny_model_dir(tmp_path, "qwen3", layers=3, name="final")
    naive_model = tiny_model_dir(tmp_path, "qwen3", layers=3, seed=1, name="naive")
    _corpus(tmp_path / "corpus")
    out, metrics_path = tmp_path / "vectors" / "org.nc", tmp_path / "metrics" / "axis.json"
    rc = main(
        [
            "axis",
            "--params",
            str(REPO_ROOT / "params.yaml"),
            "--trained",
            str(trained),
            "--naive",
            str(naive),
            "--model",
            str(model),
            "--naive-model",
            str(naive_model),
            "--corpus",
            str(tmp_path / "corpus"),
            "--out",
            str(out),
            "--metrics",
            str(metrics_path),
        ]
    )
    assert rc == 0
    metrics = json.loads(metrics_path.read_text())
    head = metrics["headline"]
    assert head["trained"]["significant_layers"] == [1, 2]
    assert head["control"]["significant_layers"] == []
    decision = metrics["positions"]["decision"]["headline"]  # planted at both positions
    assert decision["trained"]["significant_layers"] == [1, 2]
    assert head["trained"]["min_cos"] < head["trained"]["min_cos_null_mean"]
    assert metrics["trained"]["n_permutations"] == 200
    assert set(metrics["logit_lens"]["v"]["mold"]) == {"raw", "final_norm"}
    assert len(metrics["logit_lens"]["v"]["mold"]["raw"]["promoted"]) == 20
    assert metrics["emotions"]["names"] == sorted(EMOTIONS)
    assert np.isfinite(metrics["emotions"]["trained"]["slope"])
    assert set(metrics["sentiment"]["methods"]) == {"prompt", "counterfactual"}
    assert len(metrics["sentiment"]["cos_v"]["prompt"]["gold"]) == 3

    ds = load_vectors(out)
    assert ds.v.dims == ("concept", "layer", "d_model") and list(ds.concept.values) == [
        "mold",
        "gold",
    ]
    assert ds.v.shape == (2, 3, 32) and ds.u.shape == (2, 3, 32)
    np.testing.assert_allclose(ds.norm_v.values, np.linalg.norm(ds.v.values, axis=-1), rtol=1e-5)
    assert set(ds.layer_star_v.values.tolist()) <= {1, 2}
    assert ds.attrs["baseline"] == "one_vs_rest" and ds.attrs["n_mold"] > 0
    assert ds.sentiment.dims == ("sentiment_method", "layer", "d_model")


def test_the_adapted_blocks_come_from_the_organisms_training():
    """smollm2.yaml trains LoRA on the top 10 blocks: the axis adds their own minimum; the default
    table fine-tunes every parameter; an unknown organism's store gets no adapted summary."""
    overlay = load_params([REPO_ROOT / "params.yaml", REPO_ROOT / "params/smollm2.yaml"])
    assert adapted_top_layers(overlay, "smollm2-rl") == 10
    default = load_params()
    assert {adapted_top_layers(default, name) for name in default["organisms"]} == {0}
    assert adapted_top_layers(default, "not-an-organism") == 0
    overlay["train"]["lora"]["top_layers"] = 0  # LoRA on every block
    assert adapted_top_layers(overlay, "smollm2-rl") == 0
