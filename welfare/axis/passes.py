"""One out-of-core pass over an activation store: every class sum the axis stage needs.

The store is read one layer block (its chunk along `layer`) at a time through xarray/dask, so
memory is bounded by a block, never by the store. For each block:

1. training split: class sums under the observed labels, P label permutations and B stratified
   bootstraps, as Wᵀ X summed over the store's chunks (see `welfare.axis.resample`); from them
   the vectors of
   every resample, their per-layer cos(v_mold, v_gold) for each baseline, and the centred
   tile-mean cosines at the tile layer;
2. held-out split: scalar projections h·v/‖v‖ and cosines cos(h, v) onto the observed vectors.

Chunks are dask's (xarray's) chunks of the on-disk store, computed a few at a time on the
threaded scheduler: decompression and BLAS run in parallel and at most `2 · workers` chunks (and
their partial sums) are in memory. Each chunk is read once, except the one chunk that holds both
splits: the store keeps the train split before the held-out split.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from welfare.activations.store import open_activations
from welfare.axis.positions import position_activations
from welfare.axis.resample import ResamplePlan
from welfare.axis.vectors import (
    BASELINES,
    CLASSES,
    Baseline,
    centred_class_means,
    concept_vectors,
    cosine,
)

RESAMPLE_SLICE = 32
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


def _weighted_sums(block: np.ndarray, labels: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Wᵀ X of one chunk: (K, Lb·d) float64 from X (c, Lb, d), W (c, K), labels (c,) (−1 = not
    in the training split). The observed one-hot columns (0..2) are plain class sums, several times
    cheaper than a 3-row matrix product; the resample columns are one BLAS product."""
    x = block.reshape(len(block), -1)
    # float32 partials (a chunk holds a few hundred samples); the caller accumulates in float64.
    out = np.empty((weights.shape[1], x.shape[1]), dtype=np.float32)
    for c in range(3):
        out[c] = np.add.reduce(x[labels == c], axis=0, dtype=np.float64)
    if weights.shape[1] > 3:
        train = labels >= 0
        out[3:] = weights[train, 3:].T @ x[train].astype(np.float32)
    return out


def _heldout_dots(block: np.ndarray, mask: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, ...]:
    """h·v (n, 2, Lb) and ‖h‖² → ‖h‖ (n, Lb) of one chunk's held-out rows, v (2, Lb, d)."""
    x = block[mask].astype(np.float32)  # (n, Lb, d)
    dots = np.empty((len(x), 2, x.shape[1]), dtype=np.float32)
    for layer in range(x.shape[1]):  # strided 2-D views go to BLAS without a copy
        dots[:, :, layer] = x[:, layer] @ v[:, layer].T
    return dots, np.sqrt(np.einsum("nld,nld->nl", x, x))


def _in_groups(tasks: list, size: int, scheduler: dict) -> Iterator[Any]:
    """Compute delayed tasks a few at a time, in order (bounded memory, parallel reads)."""
    import dask

    for start in range(0, len(tasks), size):
        yield from dask.compute(*tasks[start : start + size], **scheduler)


@dataclass
class _Accumulators:
    """The outputs a pass fills block by block (observed and resampled statistics)."""

    class_means: np.ndarray  # (3, L, d)
    vectors: np.ndarray  # (2, L, d) for the chosen baseline
    resample_cos: dict[str, np.ndarray]  # baseline -> (R, L)
    tile_cos: np.ndarray  # (R, 3)
    projection: np.ndarray  # (n_h, 2, L)
    cosines: np.ndarray  # (n_h, 2, L)

    @classmethod
    def empty(cls, n_resamples: int, n_layers: int, d_model: int, n_held: int) -> _Accumulators:
        projection = np.empty((n_held, 2, n_layers), dtype=np.float32)
        return cls(
            class_means=np.empty((3, n_layers, d_model), dtype=np.float32),
            vectors=np.empty((2, n_layers, d_model), dtype=np.float32),
            resample_cos={b: np.empty((n_resamples, n_layers)) for b in BASELINES},
            tile_cos=np.full((n_resamples, 3), np.nan),
            projection=projection,
            cosines=np.empty_like(projection),
        )

    def add_block(
        self,
        sums: np.ndarray,
        counts: np.ndarray,
        block: slice,
        baseline: Baseline,
        tile_layer: int,
    ) -> None:
        """Class means, resampled cosines, the vectors and (at the tile layer) the tile-mean
        cosines of one layer block from its weighted sums (R, 3, Lb, d)."""
        n_resamples = sums.shape[0]
        self.class_means[:, block] = sums[0] / counts[0][:, None, None]
        for b in BASELINES:
            # A few resamples at a time: the vector algebra of all R at once would need several
            # R·block temporaries.
            for r in range(0, n_resamples, RESAMPLE_SLICE):
                part = slice(r, r + RESAMPLE_SLICE)
                vecs = concept_vectors(sums[part], counts[part], b)  # (r, 2, Lb, d)
                self.resample_cos[b][part, block] = cosine(vecs[:, 0], vecs[:, 1])
                if b == baseline and r == 0:
                    self.vectors[:, block] = vecs[0]
        if block.start <= tile_layer < block.stop:
            centred = centred_class_means(sums[:, :, [tile_layer - block.start]], counts)[:, :, 0]
            idx = {name: i for i, name in enumerate(CLASSES)}
            for k, (a, c) in enumerate(TILE_PAIRS):
                self.tile_cos[:, k] = cosine(centred[:, idx[a]], centred[:, idx[c]])

    def add_heldout(
        self, result: tuple[np.ndarray, ...], rows: np.ndarray, block: slice, safe_v: np.ndarray
    ) -> None:
        """Projections and cosines of one chunk's held-out rows on the block's vectors."""
        dots, h_norm = result
        self.projection[rows, :, block] = dots / safe_v[None]
        denom = h_norm[:, None, :] * safe_v[None]
        self.cosines[rows, :, block] = np.divide(
            dots, denom, out=np.zeros_like(dots), where=denom > 0
        )


def _open_position(store: str | Path | Any, position: str) -> tuple[Any, Any]:
    """(dataset, its (sample, layer, d_model) activations at `position`)."""
    ds = open_activations(store) if isinstance(store, (str, Path)) else store
    acts = position_activations(ds, position, store if isinstance(store, (str, Path)) else "store")
    if acts.dims != ("sample", "layer", "d_model"):
        raise ValueError(f"axis needs a (sample, layer, d_model) store, got dims {acts.dims}")
    return ds, acts


def _splits(ds: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(split per sample, class labels, train indices, held-out indices); both splits needed."""
    split = np.array([str(s) for s in ds["split"].values])
    labels = class_labels(ds["final_tile"].values)
    train_idx, held_idx = np.flatnonzero(split == "train"), np.flatnonzero(split != "train")
    if len(held_idx) == 0 or len(train_idx) == 0:
        raise ValueError("the store needs both a train and a held-out split")
    return split, labels, train_idx, held_idx


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
    position: str = "letter",
) -> StorePass:
    """Read `store` (path or opened Dataset) once at one named `position`; see the module
    docstring."""
    import dask
    from tqdm.auto import tqdm

    ds, acts = _open_position(store, position)
    split, labels, train_idx, held_idx = _splits(ds)
    n_layers, d_model = acts.sizes["layer"], acts.sizes["d_model"]
    tile_layer = (2 * n_layers) // 3 if tile_layer is None else min(tile_layer, n_layers - 1)

    plan = ResamplePlan(labels[train_idx], n_permutations, n_bootstrap, seed)
    counts = plan.counts()
    R = plan.n_resamples
    # Weight rows for every store sample (zero rows for held-out samples).
    weights = np.zeros((len(split), R * 3), dtype=np.float32)
    weights[train_idx] = plan.weights().reshape(len(train_idx), -1)
    is_train = split == "train"
    train_labels = np.where(is_train, labels, -1)
    data = acts.data  # dask (sample, layer, d_model), chunked as on disk
    chunks = data.to_delayed()  # (sample chunks, layer chunks, 1) of delayed numpy blocks
    sample_ranges = layer_blocks(data.chunks[0])
    held_pos = np.full(len(split), -1)
    held_pos[held_idx] = np.arange(len(held_idx))
    acc = _Accumulators.empty(R, n_layers, d_model, len(held_idx))
    # Only the chunks holding samples of a split are read for it (the store keeps splits apart).
    train_chunks = [i for i, rows in enumerate(sample_ranges) if is_train[rows].any()]
    held_chunks = [i for i, rows in enumerate(sample_ranges) if (~is_train[rows]).any()]
    # Chunks in flight: keeps the workers busy and bounds memory (with resamples every partial
    # sum is R·3 × block, ~50 MB at paper size, so fewer at a time).
    group = 64 * (num_workers or 2) if R == 1 else (num_workers or 2)
    scheduler = {"scheduler": "threads", "num_workers": num_workers or 2}

    def train_tasks(j: int) -> list:
        return [
            dask.delayed(_weighted_sums)(
                chunks[i, j, 0], train_labels[sample_ranges[i]], weights[sample_ranges[i]]
            )
            for i in train_chunks
        ]

    def held_tasks(j: int, v: np.ndarray) -> list:
        return [
            dask.delayed(_heldout_dots)(chunks[i, j, 0], ~is_train[sample_ranges[i]], v)
            for i in held_chunks
        ]

    blocks = layer_blocks(data.chunks[1])
    # Pipelined: one batch of work = the training chunks of block j and the held-out chunks of
    # block j−1 (whose vectors are known), so the workers never wait for a block to finish.
    pending: tuple[slice, np.ndarray] | None = None  # (block, ‖v‖) awaiting held-out scores
    for j in tqdm(
        range(len(blocks) + 1), desc="axis pass", unit="layer block", disable=not progress
    ):
        block = blocks[j] if j < len(blocks) else None
        tasks = train_tasks(j) if block is not None else []
        n_train = len(tasks)
        if pending is not None:
            tasks += held_tasks(j - 1, acc.vectors[:, pending[0]])
        n_block = 0 if block is None else block.stop - block.start
        sums = np.zeros((R * 3, n_block * d_model))
        for k, result in enumerate(_in_groups(tasks, group, scheduler)):
            if k < n_train:
                sums += result
                continue
            sel = sample_ranges[held_chunks[k - n_train]]
            acc.add_heldout(result, held_pos[sel][~is_train[sel]], *pending)  # type: ignore[misc]
        if block is None:
            break
        acc.add_block(sums.reshape(R, 3, n_block, d_model), counts, block, baseline, tile_layer)
        v_norm = np.linalg.norm(acc.vectors[:, block], axis=-1)  # (2, Lb)
        pending = (block, np.where(v_norm > 0, v_norm, 1.0))

    return StorePass(
        n_layers=n_layers,
        d_model=d_model,
        counts=counts[0],
        class_means=acc.class_means,
        vectors=acc.vectors,
        resample_cos=acc.resample_cos,
        tile_layer=tile_layer,
        tile_cos=acc.tile_cos,
        heldout_labels=labels[held_idx],
        heldout_projection=acc.projection,
        heldout_cosine=acc.cosines,
        plan=plan,
        attrs=dict(ds.attrs),
    )
