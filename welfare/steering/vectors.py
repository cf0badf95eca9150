"""Steering vectors: trained v, norm-matched u controls, random and extra directions.

Every vector is stored as the addition at nominal α = 1, so the hook adds α·direction for all
kinds alike and controls are plotted at the nominal α (docs/protocol.md §4.1): a u control's
direction is u·‖v‖/‖u‖ (β‖u‖ = α‖v‖), a random control is a seeded Gaussian direction rescaled to
‖v‖.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from welfare.axis import load_vectors
from welfare.io import InputError, reading

log = logging.getLogger(__name__)

VectorKind = Literal["trained", "control", "random", "extra"]


@dataclass(frozen=True)
class SteeringVector:
    name: str  # e.g. "v_mold", "u_gold", "random_mold", or an extra vector's name
    kind: VectorKind
    concept: str  # the concept whose ‖v‖ sets the norm ("mold"/"gold")
    layer: int
    direction: torch.Tensor  # the addition at α = 1
    beta_per_alpha: float = 1.0  # β/α for a norm-matched control (‖v‖/‖u‖), else 1

    @property
    def norm(self) -> float:
        return float(self.direction.norm())

    def addition(self, alpha: float) -> dict[int, torch.Tensor]:
        """The `additions` argument of `welfare.steering.steering` at steering factor α."""
        return {self.layer: float(alpha) * self.direction}

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "concept": self.concept,
            "layer": self.layer,
            "norm": self.norm,
            "beta_per_alpha": self.beta_per_alpha,
        }


def norm_matched_beta(alpha: float, v_norm: float, u_norm: float) -> float:
    """β with β‖u‖ = α‖v‖ (docs/protocol.md §4.1)."""
    if u_norm <= 0:
        raise ValueError("control vector has zero norm")
    return alpha * v_norm / u_norm


def random_direction(d_model: int, norm: float, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(int(seed))
    direction = torch.randn(d_model, generator=g, dtype=torch.float64)
    return (direction / direction.norm() * norm).float()


def load_vectors_file(path: str | Path):
    """Read `vectors/{organism}.nc` through the axis stage's reader (docs/conventions.md); a
    missing, truncated or non-finite file is an InputError naming it."""
    with reading(path, "vectors file"):
        ds = load_vectors(path)
    for name in ("v", "u"):
        if not np.isfinite(ds[name].values).all():
            raise InputError(f"{path}: vectors file: {name} is not finite (NaN or inf)")
    return ds


def check_vectors_fit(ds: Any, path: str | Path, model: Any) -> None:
    """Refuse, before any generation, vectors of another model shape (layers, d_model)."""
    config = model.config
    layers, width = int(config.num_hidden_layers), int(config.hidden_size)
    got_layers, got_width = ds.sizes["layer"], ds.sizes["d_model"]
    if (got_layers, got_width) != (layers, width):
        raise InputError(
            f"{path}: vectors of {got_layers} layers x d_model {got_width}, the model has "
            f"{layers} x {width}"
        )


def _vec(ds: Any, var: str, concept: str, layer: int) -> torch.Tensor:
    values = ds[var].sel(concept=concept, layer=layer).values
    return torch.as_tensor(np.asarray(values, dtype=np.float32))


def star_layer(ds: Any, var: Literal["v", "u"], concept: str) -> int:
    return int(ds[f"layer_star_{var}"].sel(concept=concept).values)


def vector_set(
    ds: Any,
    concepts: Sequence[str] = ("mold", "gold"),
    controls: Iterable[str] = ("u", "random"),
    layer: int | None = None,
    control_layer: Literal["own", "trained"] = "own",
    seed: int = 0,
) -> list[SteeringVector]:
    """Trained vectors and their controls for each concept.

    layer None: each vector at its selected ℓ* (`layer_star_v`; u at `layer_star_u` when
    control_layer is "own", as the paper's controls); an int: every vector at that layer (the
    layer sweep). Norms are matched to ‖v_c‖ at v's layer.
    """
    controls = set(controls)
    out: list[SteeringVector] = []
    for concept in concepts:
        v_layer = star_layer(ds, "v", concept) if layer is None else layer
        v = _vec(ds, "v", concept, v_layer)
        v_norm = float(v.norm())
        out.append(SteeringVector(f"v_{concept}", "trained", concept, v_layer, v))
        if "u" in controls:
            own = layer is None and control_layer == "own"
            u_layer = star_layer(ds, "u", concept) if own else v_layer
            u = _vec(ds, "u", concept, u_layer)
            u_norm = float(u.norm())
            beta = norm_matched_beta(1.0, v_norm, u_norm)
            out.append(SteeringVector(f"u_{concept}", "control", concept, u_layer, beta * u, beta))
        if "random" in controls:
            # one stream per (seed, concept, layer): the two concepts' nulls are independent
            stream = zlib.crc32(f"{seed}/{concept}/{v_layer}".encode())
            direction = random_direction(v.numel(), v_norm, seed=stream)
            out.append(SteeringVector(f"random_{concept}", "random", concept, v_layer, direction))
    return out


def extra_vectors(
    specs: Sequence[Mapping[str, Any]], ds: Any, base_dir: Path = Path(".")
) -> list[SteeringVector]:
    """Any direction as a steering vector (sentiment, emotion PC1, VAA: docs/protocol.md §4.12).

    A spec is {name, and either path (.npy of (d_model,) or (layers, d_model)) or variable (a
    data variable of the vectors file, e.g. the axis stage's `sentiment`) with `select` (e.g.
    {sentiment_method: prompt}); layer (null: ℓ* of `match_norm`, or of mold); match_norm
    (mold/gold: rescaled to ‖v‖ of that concept at the layer; null: raw)}.
    """
    out = []
    for spec in specs:
        if spec.get("variable"):
            array = np.asarray(ds[spec["variable"]].sel(**(spec.get("select") or {})).values)
        elif spec.get("path"):
            array = np.load(base_dir / spec["path"])
        else:
            raise ValueError(f"extra vector {spec['name']!r}: give a path or a variable")
        concept = spec.get("match_norm") or "mold"
        layer = spec.get("layer")
        layer = star_layer(ds, "v", concept) if layer is None else int(layer)
        direction = torch.as_tensor(np.asarray(array[layer] if array.ndim == 2 else array, "f4"))
        if spec.get("match_norm"):
            target = float(_vec(ds, "v", concept, layer).norm())
            direction = direction / direction.norm() * target
        out.append(SteeringVector(spec["name"], "extra", concept, layer, direction))
    return out
