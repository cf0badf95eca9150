"""One out-of-core pass over an activation store: every class sum the axis stage needs.

The store is read one layer block (its chunk along `layer`) at a time through xarray/dask, so
memory is bounded by a block, never by the store. For each block:

1. training split: class sums under the observed labels, P label permutations and B stratified
   bootstraps, as one dask tensordot Wᵀ X (see `welfare.axis.resample`); from them the vectors of
   every resample, their per-layer cos(v_mold, v_gold) for each baseline, and the centred
   tile-mean cosines at the tile layer;
2. held-out split: scalar projections h·v/‖v‖ and cosines cos(h, v) onto the observed vectors.

Each chunk is read once: the store keeps the train split before the held-out split.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from welfare.axis.resample import ResamplePlan
from welfare.axis.vectors import (
    BASELINES,
    CLASSES,
    Baseline,
    centred_class_means,
    concept_vectors,
    cosine,
)

TILE_PAIRS: tuple[tuple[str, str], ...] = (("mold", "gold"), ("mold", "path"), ("gold", "path"))


@dataclass
class StorePass:
    """What one pass over a store yields (observed vectors, resampled cosines, held-out scores)."""

    n_layers: int
    d_model: int
    counts: np.ndarray  # (3,) training class counts
    class_means: np.ndarray  # (3, L, d) training class means (observed labels)
    vectors: np.ndarray  # (2, L, d) for the chosen baseline
    resample_cos: dict[str, np.ndarray]  # baseline -> (R, L) cos(v_mold, v_gold) per resample
    tile_layer: int
    tile_cos: np.ndarray  # (R, 3) centred tile-mean cosines at tile_layer, pairs TILE_PAIRS
    heldout_labels: np.ndarray  # (n_h,) class index
    heldout_projection: np.ndarray  # (n_h, 2, L) h·v/‖v‖
    heldout_cosine: np.ndarray  # (n_h, 2, L) cos(h, v)
    plan: ResamplePlan
    attrs: dict[str, Any]


def class_labels(tiles: Sequence[str]) -> np.ndarray:
    lookup = {name: i for i, name in enumerate(CLASSES)}
    try:
        return np.array([lookup[str(t)] for t in tiles], dtype=np.int64)
    except KeyError as exc:
        raise ValueError(f"final_tile {exc.args[0]!r} is not one of {CLASSES}") from None


def layer_blocks(chunks_along_layer: Sequence[int]) -> list[slice]:
    out, start = [], 0
    for size in chunks_along_layer:
        out.append(slice(start, start + size))
        start += size
    return out


def run_store_pass(
    store: str | Path | Any,
    *,
    baseline: Baseline,
    n_permutations: int,
    n_bootstrap: int,
    seed: int,
    tile_layer: int | None = None,
    num_workers: int | None = None,
    progress: bool = True,
) -> StorePass:
    """Read `store` (path or opened Dataset) once; see the module docstring."""
    import dask
    import dask.array as da
    from tqdm.auto import tqdm

    from welfare.activations.store import open_activations

    ds = open_activations(store) if isinstance(store, (str, Path)) else store
    acts = ds["activations"]
    if acts.dims != ("sample", "layer", "d_model"):
        raise ValueError(f"axis needs a (sample, layer, d_model) store, got dims {acts.dims}")
    split = np.array([str(s) for s in ds["split"].values])
    labels = class_labels(ds["final_tile"].values)
    train_idx, held_idx = np.flatnonzero(split == "train"), np.flatnonzero(split != "train")
    if len(held_idx) == 0 or len(train_idx) == 0:
        raise ValueError("the store needs both a train and a held-out split")
    n_layers, d_model = acts.sizes["layer"], acts.sizes["d_model"]
    tile_layer = (2 * n_layers) // 3 if tile_layer is None else min(tile_layer, n_layers - 1)

    plan = ResamplePlan(labels[train_idx], n_permutations, n_bootstrap, seed)
    counts = plan.counts()
    weights = plan.weights().reshape(len(train_idx), -1)  # (n_train, R·3)
    data = acts.data  # dask (sample, layer, d_model)
    train_x, held_x = data[train_idx], data[held_idx]
    weights_d = da.from_array(weights, chunks=(train_x.chunks[0], -1))

    R = plan.n_resamples
    resample_cos = {b: np.empty((R, n_layers)) for b in BASELINES}
    class_means = np.empty((3, n_layers, d_model), dtype=np.float32)
    vectors = np.empty((2, n_layers, d_model), dtype=np.float32)
    tile_cos = np.full((R, 3), np.nan)
    projection = np.empty((len(held_idx), 2, n_layers), dtype=np.float32)
    cosines = np.empty_like(projection)

    blocks = layer_blocks(data.chunks[1])
    scheduler = {"scheduler": "threads", "num_workers": num_workers} if num_workers else {}
    for block in tqdm(blocks, desc="axis pass", unit="layer block", disable=not progress):
        x = train_x[:, block].astype(np.float32)
        with dask.config.set(**scheduler):
            sums = da.tensordot(weights_d, x, axes=((0,), (0,))).compute()
        sums = sums.reshape(R, 3, x.shape[1], d_model).astype(np.float64)
        class_means[:, block] = sums[0] / counts[0][:, None, None]
        for b in BASELINES:
            vecs = concept_vectors(sums, counts, b)  # (R, 2, Lb, d)
            resample_cos[b][:, block] = cosine(vecs[:, 0], vecs[:, 1])
            if b == baseline:
                vectors[:, block] = vecs[0]
        if block.start <= tile_layer < block.stop:
            centred = centred_class_means(sums[:, :, [tile_layer - block.start]], counts)[:, :, 0]
            idx = {name: i for i, name in enumerate(CLASSES)}
            for j, (a, c) in enumerate(TILE_PAIRS):
                tile_cos[:, j] = cosine(centred[:, idx[a]], centred[:, idx[c]])
        v = vectors[:, block]  # (2, Lb, d)
        v_norm = np.linalg.norm(v, axis=-1)  # (2, Lb)
        h = held_x[:, block].astype(np.float32)
        dots = da.einsum("nld,cld->ncl", h, v)
        h_norm = da.sqrt((h * h).sum(axis=-1))  # (n_h, Lb)
        with dask.config.set(**scheduler):
            dots, h_norm = dask.compute(dots, h_norm)
        safe_v = np.where(v_norm > 0, v_norm, 1.0)
        projection[:, :, block] = dots / safe_v[None]
        denom = h_norm[:, None, :] * safe_v[None]
        cosines[:, :, block] = np.divide(dots, denom, out=np.zeros_like(dots), where=denom > 0)

    return StorePass(
        n_layers=n_layers,
        d_model=d_model,
        counts=counts[0],
        class_means=class_means,
        vectors=vectors,
        resample_cos=resample_cos,
        tile_layer=tile_layer,
        tile_cos=tile_cos,
        heldout_labels=labels[held_idx],
        heldout_projection=projection,
        heldout_cosine=cosines,
        plan=plan,
        attrs=dict(ds.attrs),
    )
