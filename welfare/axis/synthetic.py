"""Synthetic activation stores with known ground truth, for tests and benchmarks.

Samples are noise (isotropic, plus optional strong shared directions, as real residual streams
have) and, at `signal_layers`, a planted reward signal: Mold samples get +strength·w and Gold
samples −strength·w along one fixed unit direction w (an antiparallel axis), Path nothing.
Written chunk by chunk through the real store writer, so a paper-size store never sits in memory.
With `positions` the store has a named `position` dim (as `welfare activations` writes it), each
position with its own noise, and the signal is planted at `signal_position` only (None: at all).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from welfare.activations.store import ActivationStoreWriter, StoreLayout, blosc_codec
from welfare.axis.vectors import CLASSES


@dataclass(frozen=True)
class SyntheticSpec:
    n_per_class: int = 60
    n_layers: int = 4
    d_model: int = 32
    signal_layers: Sequence[int] = field(default_factory=tuple)
    strength: float = 0.0
    anisotropy: float = 0.0  # SD of shared directions (real activations: ≫ 1)
    n_shared_directions: int = 1
    heldout_fraction: float = 0.25
    shuffle_labels: bool = False  # labels independent of the planted signal
    seed: int = 0
    dtype: str = "float32"
    positions: tuple[str, ...] = ()  # () : no `position` dim (the letter alone)
    signal_position: str | None = None  # where the signal is planted (None: every position)


def synthetic_labels(spec: SyntheticSpec) -> tuple[np.ndarray, np.ndarray]:
    """(final_tile, split) arrays, train split first (the order the capture stage writes)."""
    rng = np.random.default_rng(spec.seed)
    tiles = np.repeat(np.array(CLASSES, dtype=object), spec.n_per_class)
    rng.shuffle(tiles)
    n = len(tiles)
    n_held = int(round(n * spec.heldout_fraction))
    split = np.array(["train"] * (n - n_held) + ["heldout"] * n_held, dtype=object)
    return tiles, split


def write_synthetic_store(
    path: str | Path,
    spec: SyntheticSpec,
    chunk_mb: float = 4.0,
    layers_per_chunk: int = 4,
    batch: int = 512,
) -> Path:
    rng = np.random.default_rng(spec.seed + 1)
    tiles, split = synthetic_labels(spec)
    signal_tiles = rng.permutation(tiles) if spec.shuffle_labels else tiles
    n, L, d = len(tiles), spec.n_layers, spec.d_model
    direction = rng.standard_normal(d)
    direction /= np.linalg.norm(direction)
    shared = rng.standard_normal((spec.n_shared_directions, L, d))
    shared /= np.linalg.norm(shared, axis=-1, keepdims=True)
    sign = np.where(signal_tiles == "mold", 1.0, np.where(signal_tiles == "gold", -1.0, 0.0))
    layer_mask = np.zeros(L)
    layer_mask[list(spec.signal_layers)] = 1.0
    P = max(1, len(spec.positions))
    position_mask = np.array(
        [spec.signal_position in (None, name) for name in spec.positions] or [True], dtype=float
    )
    layout = StoreLayout(
        n_samples=n,
        n_layers=L,
        d_model=d,
        dtype=spec.dtype,
        n_positions=len(spec.positions) or None,
        position_labels=tuple(spec.positions) or None,
    )
    coords = {
        "trajectory_id": np.arange(n),
        "final_tile": tiles,
        "split": split,
        "n_steps": rng.integers(1, 16, n),
    }
    writer = ActivationStoreWriter(
        Path(path),
        layout,
        coords,
        {"model": "synthetic", "spec": repr(spec)},
        chunk_mb=chunk_mb,
        layers_per_chunk=layers_per_chunk,
        compressor=blosc_codec("zstd", 1, "bitshuffle"),
    )
    with writer:
        for start in range(writer.n_done, n, batch):
            stop = min(n, start + batch)
            x = rng.standard_normal((stop - start, P, L, d), dtype=np.float32)
            if spec.anisotropy:
                z = rng.standard_normal((stop - start, P, spec.n_shared_directions, L))
                x += spec.anisotropy * np.einsum("npkl,kld->npld", z, shared).astype(np.float32)
            if spec.strength:
                x += (
                    spec.strength
                    * sign[start:stop, None, None, None]
                    * position_mask[None, :, None, None]
                    * layer_mask[None, None, :, None]
                    * direction[None, None, None, :]
                ).astype(np.float32)
            writer.write(x if spec.positions else x[:, 0])
    return Path(path)
