"""The vectors file `vectors/{organism}.nc` (docs/conventions.md): write and `load_vectors`."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from welfare.axis.vectors import CONCEPTS
from welfare.io import atomic_path

REQUIRED = ("v", "u", "layer_star_v", "layer_star_u", "norm_v", "norm_u")


def vectors_dataset(
    v: np.ndarray,
    u: np.ndarray,
    layer_star_v: Mapping[str, int],
    layer_star_u: Mapping[str, int],
    scores_v: Mapping[str, Mapping[str, np.ndarray]],
    scores_u: Mapping[str, Mapping[str, np.ndarray]],
    attrs: Mapping[str, Any],
    sentiment: Mapping[str, np.ndarray] | None = None,
    by_position: Mapping[str, tuple[np.ndarray, np.ndarray]] | None = None,
    layer_star_by_position: Mapping[str, tuple[Mapping[str, int], Mapping[str, int]]] | None = None,
) -> Any:
    """Labelled dataset: v, u (concept, layer, d_model), ℓ*, norms and selection scores (of the
    steering position); optionally v and u at every analysed position (`v_by_position`,
    `u_by_position`: position, concept, layer, d_model) with their ℓ*."""
    import xarray as xr

    n_layers = v.shape[1]
    dims = ("concept", "layer", "d_model")
    data: dict[str, Any] = {
        "v": (dims, v.astype(np.float32)),
        "u": (dims, u.astype(np.float32)),
        "layer_star_v": ("concept", np.array([layer_star_v[c] for c in CONCEPTS], dtype=np.int64)),
        "layer_star_u": ("concept", np.array([layer_star_u[c] for c in CONCEPTS], dtype=np.int64)),
        "norm_v": (("concept", "layer"), np.linalg.norm(v, axis=-1)),
        "norm_u": (("concept", "layer"), np.linalg.norm(u, axis=-1)),
    }
    for suffix, scores in (("v", scores_v), ("u", scores_u)):
        for score in ("auroc", "abs_d", "overlap"):
            data[f"{score}_{suffix}"] = (
                ("concept", "layer"),
                np.stack([np.asarray(scores[c][score], dtype=np.float64) for c in CONCEPTS]),
            )
    coords: dict[str, Any] = {"concept": list(CONCEPTS), "layer": np.arange(n_layers)}
    if sentiment:
        names = sorted(sentiment)
        data["sentiment"] = (
            ("sentiment_method", "layer", "d_model"),
            np.stack([sentiment[k] for k in names]).astype(np.float32),
        )
        coords["sentiment_method"] = names
    if by_position:
        names = list(by_position)
        coords["position"] = names
        for i, var in enumerate(("v", "u")):
            data[f"{var}_by_position"] = (
                ("position", *dims),
                np.stack([by_position[p][i] for p in names]).astype(np.float32),
            )
            if layer_star_by_position:
                data[f"layer_star_{var}_by_position"] = (
                    ("position", "concept"),
                    np.array(
                        [[layer_star_by_position[p][i][c] for c in CONCEPTS] for p in names],
                        dtype=np.int64,
                    ),
                )
    return xr.Dataset(data, coords=coords, attrs=dict(attrs))


def write_vectors(path: str | Path, dataset: Any) -> Path:
    with atomic_path(path) as tmp:
        dataset.to_netcdf(tmp, engine="h5netcdf")
    return Path(path)


def load_vectors(path: str | Path) -> Any:
    """Read a vectors file into memory (file closed on return) and check its contract."""
    import xarray as xr

    dataset = xr.load_dataset(path, engine="h5netcdf")
    missing = [name for name in REQUIRED if name not in dataset]
    if missing:
        raise ValueError(f"{path}: not a vectors file (missing {', '.join(missing)})")
    if list(dataset["concept"].values) != list(CONCEPTS):
        raise ValueError(f"{path}: concept coordinate must be {list(CONCEPTS)}")
    return dataset
