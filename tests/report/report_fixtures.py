"""Synthetic metrics in the stages' formats (train.tsv/eval.tsv/eval.json of welfare.rl, steer.json
of welfare.steering, axis.json/track.json of welfare.axis / welfare.steering.track), with known
numbers, for the report tests."""

from __future__ import annotations

import json
import math
from pathlib import Path

LAYERS = 6
COS_TRAINED = [0.2, -0.3, -0.6, -0.91, -0.7, -0.4]  # min −0.91 at layer 3
COS_CONTROL = [0.3, 0.1, -0.05, -0.15, 0.0, 0.2]
COS_DECISION = [-0.1, -0.5, -0.77, -0.6, -0.4, -0.2]  # the decision token: min −0.77 at layer 2
AUROC_LETTER = [0.5, 0.52, 0.55, 0.61, 0.58, 0.54]
AUROC_DECISION = [0.6, 0.7, 0.83, 0.8, 0.75, 0.7]  # best 0.83 at layer 2
EMOTIONS = ["joy", "pride", "hope", "fear", "shame", "anger"]
# Every figure of the report, by key (each rendered once per organism as "<key>-<organism>").
FIGURES = [
    "training",
    "cosines",
    "positions",
    "tile-means",
    "logit-lens",
    "emotions",
    "sentiment",
    "steering",
    "layer-sweep",
    "tracking",
]


def _tsv(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cols = list(rows[0])
    lines = ["\t".join(cols)] + ["\t".join(str(r[c]) for c in cols) for r in rows]
    path.write_text("\n".join(lines) + "\n")


def _json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def _position(cos: list[float], control: list[float], auroc: list[float], p: float) -> dict:
    """One entry of axis.json `positions`: headline and both passes at one token position."""
    layer = cos.index(min(cos))
    trained = _axis_pass(cos, -0.5) | {"layer_star": {"mold": layer, "gold": layer}}
    for concept in ("mold", "gold"):
        trained["heldout"][concept]["auroc"] = auroc
    head = {
        "min_cos": min(cos),
        "min_cos_layer": layer,
        "min_cos_null_mean": -0.5,
        "min_cos_p": p,
        "avg_cos": sum(cos) / len(cos),
        "avg_cos_p": p,
        "significant_layers": [layer] if p < 0.05 else [],
        "layer_star": {"mold": layer, "gold": layer},
    }
    control_head = head | {"min_cos": min(control), "min_cos_p": 0.6, "significant_layers": []}
    return {
        "headline": {"trained": head, "control": control_head},
        "trained": trained,
        "control": _axis_pass(control, 0.0),
    }


def _axis_pass(cos: list[float], tile: float) -> dict:
    return {
        "cos": {
            "per_layer": cos,
            "ci_low": [c - 0.05 for c in cos],
            "ci_high": [c + 0.05 for c in cos],
            "null_low": [-0.2] * LAYERS,
            "null_high": [0.2] * LAYERS,
            "min": {"value": min(cos)},
            "avg": {"value": sum(cos) / len(cos)},
        },
        "tile_means": {
            "layer": 3,
            "mold_gold": {"value": tile},
            "mold_path": {"value": 0.1},
            "gold_path": {"value": -0.2},
        },
        "heldout": {
            "mold": {
                "norm": [1.0, 2.0, 3.0, 4.07, 5.0, 6.0],
                "auroc": [0.5, 0.6, 0.7, 0.81, 0.6, 0.5],
            },
            "gold": {
                "norm": [2.0, 4.0, 8.0, 14.37, 9.0, 7.0],
                "auroc": [0.5, 0.6, 0.7, 0.93, 0.6, 0.5],
            },
        },
        "layer_star": {"mold": 3, "gold": 3},
    }


def _points(slope: float) -> list[dict]:
    return [
        {"alpha": a, "mean": slope * a + 1.0, "se": 0.1, "n": 8, "masked": False}
        for a in (-4.0, -2.0, 0.0, 2.0, 4.0)
    ]


def _steer() -> dict:
    slopes = {
        "sentiment": {"v_mold": -0.23, "v_gold": 0.71, "u_mold": 0.01, "u_gold": -0.02},
        "backtracking": {"v_mold": 0.10, "v_gold": -0.08, "u_mold": 0.0, "u_gold": 0.0},
        "p_true": {"v_mold": -0.12, "v_gold": 0.15, "u_mold": 0.0, "u_gold": 0.01},
        "refusal_benign": {"v_mold": 0.03, "v_gold": -0.04, "u_mold": 0.0, "u_gold": 0.0},
    }
    runs = {
        metric: {
            v: {
                "layer": 3,
                "kind": "trained" if v.startswith("v_") else "control",
                "slope": s,
                "se": 0.01,
                "points": _points(s),
            }
            for v, s in per.items()
        }
        for metric, per in slopes.items()
    }
    sweep = {
        "sentiment": {
            v: [
                {"layer": layer, "slope": s * math.sin(layer + 1), "se": 0.1, "n": 8}
                for layer in range(LAYERS)
            ]
            for v, s in (("v_mold", -0.5), ("v_gold", 0.6))
        }
    }
    return {
        "organism": "reinforce",
        "alphas": [-4, -2, 0, 2, 4],
        "runs": {"naive": runs},
        "layer_sweep": {"alphas": [-4, 4], "naive": sweep},
    }


def write_metrics(
    root: Path, organisms: tuple[str, ...] = ("reinforce",), naive: str = "organisms/reference"
) -> Path:
    """A complete metrics/ tree under `root` for `organisms`, and the maze-naive organism's
    pretraining metrics under `root / naive` (the kept organism's directory by default, or
    metrics/naive for a run that pretrains); returns root / 'metrics'."""
    metrics = root / "metrics"
    for name in organisms:
        base = metrics / name
        _tsv(
            base / "train.tsv",
            [
                {
                    "step": s,
                    "return_mean": -5 + s,
                    "return_std": 2.0,
                    "gold_rate": 0.05 * s,
                    "mold_rate": 0.3 - 0.02 * s,
                    "path_rate": 0.5,
                    "policy_entropy": 1.3 - 0.05 * s,
                    "equalized_entropy": 1.2,
                    "loss": 0.5,
                }
                for s in range(1, 11)
            ],
        )
        _tsv(base / "eval.tsv", [{"step": s, "greedy_mean_return": s - 3.0} for s in (0, 5, 10)])
        _json(base / "eval.json", {"final": {"greedy_mean_return": 7.0}})
        _json(
            base / "axis.json",
            {
                "trained": _axis_pass(COS_TRAINED, -0.813),
                "control": _axis_pass(COS_CONTROL, 0.086),
                "steer_position": "letter",
                "positions": {
                    "letter": _position(COS_TRAINED, COS_CONTROL, AUROC_LETTER, 0.3),
                    "decision": _position(COS_DECISION, COS_CONTROL, AUROC_DECISION, 0.004),
                },
                "logit_lens": {
                    "layer": 4,
                    "v": {
                        "mold": {
                            "raw": {
                                "promoted": [["fail", 3.1], ["impossible", 2.9]],
                                "suppressed": [["yes", -2.0]],
                            }
                        },
                        "gold": {
                            "raw": {"promoted": [["success", 2.5]], "suppressed": [["wrong", -1.0]]}
                        },
                    },
                    "u": {"skipped": "no --naive-model"},
                },
                "sentiment": {
                    "methods": ["prompt"],
                    "cos_v": {"prompt": {"mold": [-0.1] * LAYERS, "gold": [0.2] * LAYERS}},
                    "cos_u": {"prompt": {"mold": [0.01] * LAYERS, "gold": [0.02] * LAYERS}},
                },
                "emotions": {
                    "trained": {
                        "cos": {
                            "mold": {e: 0.1 * (i - 2.5) for i, e in enumerate(EMOTIONS)},
                            "gold": {e: -0.1 * (i - 2.5) for i, e in enumerate(EMOTIONS)},
                        },
                        "slope": -1.0,
                        "r": -0.99,
                    },
                    "control": {
                        "cos": {
                            "mold": {e: 0.01 * i for i, e in enumerate(EMOTIONS)},
                            "gold": {e: 0.02 * (i % 2) for i, e in enumerate(EMOTIONS)},
                        },
                        "slope": 0.1,
                        "r": 0.05,
                    },
                },
            },
        )
        _json(base / "steer.json", _steer())
        _json(
            base / "track.json",
            {
                "trained": {
                    "maze": {
                        "v_gold": {
                            "layer": 3,
                            "d": 1.8,
                            "projection_sd": {
                                "gold": [1.0 + 0.1 * i for i in range(20)],
                                "mold": [-1.0 - 0.1 * i for i in range(20)],
                            },
                        }
                    },
                    "correctness": {"v_gold": {"layer": 3, "d": 0.9}},
                },
                "naive": {
                    "maze": {
                        "v_gold": {
                            "layer": 3,
                            "d": 0.05,
                            "projection_sd": {
                                "gold": [0.1 * i for i in range(20)],
                                "mold": [0.1 * i + 0.05 for i in range(20)],
                            },
                        }
                    }
                },
            },
        )
    for mapping in ("office", "office_swap"):
        _json(
            metrics / "env" / mapping / "class_balance.json",
            {  # welfare.env.balance.class_balance's layout (the part the report reads)
                "final_direction_count": {
                    c: {"N": 3, "E": 4, "S": 4, "W": 4} for c in ("mold", "gold", "path")
                },
                "n_trajectories": 45,
            },
        )
    _tsv(
        root / naive / "pretrain.tsv",
        [{"step": s, "train_loss": 5 - 0.1 * s, "heldout_loss": 5.1 - 0.1 * s} for s in range(10)],
    )
    _tsv(  # a dropped first try, then one that reads
        root / naive / "reading_probe.tsv",
        [
            {"try": t, "seed": 1000 * (t - 1), "step": s, "what2": 0.5 + 0.05 * s * (t - 1)}
            | {"where2": 0.5, "what": 0.25 + 0.07 * s * (t - 1), "where": 0.25, "judgment": 0.5}
            | {"neighbours": 0.731}
            for t in (1, 2)
            for s in range(0, 11 if t == 2 else 6, 5)
        ],
    )
    _json(root / naive / "pretrain.json", {"steps": 10, "heldout_loss": 4.2})
    _json(
        root / naive / "acceptance.json",
        {"passed": True, "checks": {"format_mass": {"value": 0.99}}},
    )
    return metrics
