"""The activation store: a Zarr v3 group written through xarray, filled chunk by chunk.

Layout: `activations` (sample, layer, d_model) — or (sample, position, layer, d_model) when
several positions are captured — float16 or float32, explicit chunks of a few MB along
(sample, layer) with all of d_model in a chunk, an explicit Blosc compressor, one coordinate per
sample field (trajectory id, maze seed, ...), provenance in the attributes.

Atomic and resumable: the store is built in a stable partial sibling `.{name}.partial` with a
`progress.json` that records how many leading samples are written and a fingerprint of what is
being written (params hash, model, sample coordinates, dtype, chunks). A rerun with the same
fingerprint resumes after the last written chunk; any other partial is discarded. Only a
complete store is renamed to its final name (`welfare.io.atomic_path`), so a killed run never
leaves a store that opens as complete.

Verified on read: the complete store carries the written-rows record (rows written, chunk
count) in its group attribute `written_rows`. `open_activations` checks it against the array,
checks that every chunk is on disk and readable and that every row is finite, and raises
`StoreError` naming the store otherwise: a deleted chunk reads as fill values, which would pass
for an honest null result.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from welfare.io import InputError, atomic_path, write_json

log = logging.getLogger(__name__)

ACTIVATIONS = "activations"
PROGRESS_FILE = "progress.json"
WRITTEN = "written_rows"  # group attribute: the written-rows record of a complete store


class StoreError(InputError, ValueError):
    """An activation store that is missing, incomplete or damaged; the message names it."""


@dataclass(frozen=True)
class StoreLayout:
    n_samples: int
    n_layers: int
    d_model: int
    n_positions: int | None = None  # None: one position, no `position` dim
    dtype: str = "float16"
    # Named positions ("letter", "decision"): the `position` coordinate, one position a chunk
    # (the axis reads each on its own). None: offsets −P..−1, all positions in a chunk.
    position_labels: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.position_labels and len(self.position_labels) != self.n_positions:
            raise ValueError(f"{len(self.position_labels)} position labels for {self.n_positions}")

    @property
    def dims(self) -> tuple[str, ...]:
        if self.n_positions is None:
            return ("sample", "layer", "d_model")
        return ("sample", "position", "layer", "d_model")

    @property
    def shape(self) -> tuple[int, ...]:
        inner = (self.n_layers, self.d_model)
        if self.n_positions is None:
            return (self.n_samples, *inner)
        return (self.n_samples, self.n_positions, *inner)


def chunk_shape(layout: StoreLayout, chunk_mb: float, layers_per_chunk: int) -> tuple[int, ...]:
    """Chunks of about `chunk_mb` MB: whole d_model (and every offset position, or one named
    position), `layers_per_chunk` layers, as many samples as fit. Reading one layer block (of
    one named position) touches only its own chunks."""
    layers = max(1, min(layers_per_chunk, layout.n_layers))
    positions = 1 if layout.position_labels else (layout.n_positions or 1)
    per_sample = positions * layers * layout.d_model * np.dtype(layout.dtype).itemsize
    samples = int(max(1, min(layout.n_samples, chunk_mb * 2**20 // per_sample)))
    if layout.n_positions is None:
        return (samples, layers, layout.d_model)
    return (samples, positions, layers, layout.d_model)


def blosc_codec(codec: str, level: int, shuffle: str) -> Any:
    from zarr.codecs import BloscCodec

    return BloscCodec(cname=codec, clevel=level, shuffle=shuffle)


def _fingerprint(
    layout: StoreLayout, coords: Mapping[str, np.ndarray], attrs: Mapping[str, Any], chunks: tuple
) -> str:
    digest = hashlib.sha256()
    digest.update(repr(layout).encode())
    digest.update(json.dumps(dict(attrs), sort_keys=True, default=str).encode())
    digest.update(json.dumps(list(chunks)).encode())
    for name in sorted(coords):
        digest.update(name.encode())
        digest.update(np.asarray(coords[name]).astype(str).tobytes())
    return digest.hexdigest()[:16]


@dataclass
class ActivationStoreWriter:
    """Append samples in order; `with` renames the store into place only when it is complete."""

    path: Path
    layout: StoreLayout
    coords: Mapping[str, np.ndarray]  # each of length n_samples
    attrs: Mapping[str, Any]
    chunk_mb: float = 4.0
    layers_per_chunk: int = 4
    compressor: Any = None
    n_done: int = field(default=0, init=False)
    _buffer: list[np.ndarray] = field(default_factory=list, init=False, repr=False)
    _buffered: int = field(default=0, init=False, repr=False)

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        self.partial = self.path.with_name(f".{self.path.name}.partial")
        self.chunks = chunk_shape(self.layout, self.chunk_mb, self.layers_per_chunk)
        for name, values in self.coords.items():
            if len(values) != self.layout.n_samples:
                raise ValueError(
                    f"coordinate {name!r} has {len(values)} values, expected "
                    f"{self.layout.n_samples}"
                )
        self.fingerprint = _fingerprint(self.layout, self.coords, self.attrs, self.chunks)

    # -- lifecycle ---------------------------------------------------------------------------
    def __enter__(self) -> ActivationStoreWriter:
        import zarr

        progress = self._read_progress()
        if progress and progress.get("fingerprint") == self.fingerprint:
            self.n_done = int(progress["n_written"])
            log.info(
                "resuming %s after %d of %d samples", self.path, self.n_done, self.layout.n_samples
            )
        else:
            if self.partial.exists():
                log.info("discarding stale partial store %s", self.partial)
                shutil.rmtree(self.partial)
            self._create()
            self.n_done = 0
            self._write_progress()
        self._array = zarr.open_array(self.partial, path=ACTIVATIONS, mode="r+")
        return self

    def __exit__(self, exc_type: Any, *_exc: object) -> None:
        import zarr

        if exc_type is not None:
            return  # keep the partial store: a rerun resumes after its last written chunk
        self._flush(final=True)
        if self.n_done != self.layout.n_samples:
            raise RuntimeError(
                f"{self.path}: wrote {self.n_done} of {self.layout.n_samples} "
                "samples; the store stays partial"
            )
        (self.partial / PROGRESS_FILE).unlink()
        group = zarr.open_group(self.partial, mode="r+", zarr_format=3)
        group.attrs[WRITTEN] = {"rows": self.n_done, "chunks": self._array.nchunks}
        with atomic_path(self.path) as tmp:
            os.replace(self.partial, tmp)

    # -- writing -----------------------------------------------------------------------------
    def write(self, activations: np.ndarray) -> None:
        """Append the next samples (the first axis continues where the store stands)."""
        expected = self.layout.shape[1:]
        if activations.shape[1:] != expected:
            raise ValueError(f"activations of shape {activations.shape[1:]}, expected {expected}")
        if self.n_done + self._buffered + len(activations) > self.layout.n_samples:
            raise ValueError("more samples written than the store holds")
        self._buffer.append(np.asarray(activations, dtype=self.layout.dtype))
        self._buffered += len(activations)
        self._flush(final=False)

    def _flush(self, final: bool) -> None:
        """Write whole sample-chunks (and at the end the remainder), then record progress."""
        step = self.chunks[0]
        n_ready = self._buffered if final else (self._buffered // step) * step
        if n_ready == 0:
            return
        data = np.concatenate(self._buffer)
        self._array[self.n_done : self.n_done + n_ready] = data[:n_ready]
        rest = data[n_ready:]
        self._buffer = [rest] if len(rest) else []
        self._buffered = len(rest)
        self.n_done += n_ready
        self._write_progress()

    # -- helpers -----------------------------------------------------------------------------
    def _create(self) -> None:
        import dask.array as da
        import xarray as xr

        dims = self.layout.dims
        data = da.zeros(self.layout.shape, dtype=self.layout.dtype, chunks=self.chunks)
        coords: dict[str, Any] = {
            name: ("sample", np.asarray(v)) for name, v in self.coords.items()
        }
        coords["sample"] = np.arange(self.layout.n_samples)
        coords["layer"] = np.arange(self.layout.n_layers)
        if self.layout.position_labels:
            coords["position"] = np.array(self.layout.position_labels, dtype=object)
        elif self.layout.n_positions is not None:
            # Offsets from the end of the captured span: −P .. −1.
            coords["position"] = np.arange(-self.layout.n_positions, 0)
        dataset = xr.Dataset({ACTIVATIONS: (dims, data)}, coords=coords, attrs=dict(self.attrs))
        encoding = {ACTIVATIONS: {"chunks": self.chunks}}
        if self.compressor is not None:
            encoding[ACTIVATIONS]["compressors"] = (self.compressor,)
        # compute=False writes metadata and coordinates only; chunks are filled by `write`.
        dataset.to_zarr(
            self.partial,
            mode="w",
            compute=False,
            zarr_format=3,
            consolidated=False,
            encoding=encoding,
        )

    def _read_progress(self) -> dict[str, Any] | None:
        try:
            return json.loads((self.partial / PROGRESS_FILE).read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    def _write_progress(self) -> None:
        write_json(
            self.partial / PROGRESS_FILE,
            {"fingerprint": self.fingerprint, "n_written": self.n_done},
        )


def open_activations(path: str | Path, chunks: Any = None, verify: bool = True) -> Any:
    """Open a complete store lazily (dask-backed), chunked as on disk unless `chunks` says;
    `verify_store` first (one read of every chunk) unless `verify` is False."""
    import xarray as xr

    path = Path(path)
    if verify:
        verify_store(path)
    elif not (path / "zarr.json").exists():
        raise StoreError(f"{path}: no activation store (zarr.json missing)")
    try:
        return xr.open_zarr(path, consolidated=False, chunks={} if chunks is None else chunks)
    except (OSError, ValueError, KeyError) as exc:
        raise StoreError(f"{path}: unreadable activation store ({exc})") from None


def verify_store(path: str | Path) -> int:
    """Check a store against its written-rows record: every chunk on disk and decodable, every
    row finite. Returns the row count; raises StoreError naming the store and the damage."""
    import zarr

    path = Path(path)
    if not (path / "zarr.json").exists():
        raise StoreError(f"{path}: no activation store (zarr.json missing)")
    try:
        record = zarr.open_group(path, mode="r", zarr_format=3).attrs.get(WRITTEN)
        array = zarr.open_array(path, path=ACTIVATIONS, mode="r")
    except Exception as exc:  # zarr raises many types for damaged metadata
        raise StoreError(f"{path}: unreadable activation store ({exc})") from None
    try:
        rows, n_chunks = int(record["rows"]), int(record["chunks"])
    except (KeyError, TypeError, ValueError):
        raise StoreError(
            f"{path}: no written-rows record (attribute {WRITTEN!r}): the store is incomplete "
            "or from an older version; rerun `welfare activations`"
        ) from None
    if array.shape[0] != rows or array.nchunks != n_chunks:
        raise StoreError(
            f"{path}: {array.shape[0]} rows in {array.nchunks} chunks, the record says {rows} "
            f"rows in {n_chunks}"
        )
    missing = n_chunks - array.nchunks_initialized
    if missing:
        raise StoreError(f"{path}: {missing} of {n_chunks} chunks missing")
    _check_rows_finite(path, array)
    return rows


def _check_rows_finite(path: Path, array: Any) -> None:
    step = array.chunks[0]
    bad: list[int] = []
    for start in range(0, array.shape[0], step):
        try:
            block = np.asarray(array[start : start + step])
        except Exception as exc:  # a truncated or corrupt chunk fails inside the codec
            raise StoreError(
                f"{path}: rows {start}-{start + step - 1} unreadable (corrupt chunk: {exc})"
            ) from None
        finite = np.isfinite(block.reshape(len(block), -1)).all(axis=1)
        bad += (start + np.flatnonzero(~finite)).tolist()
    if bad:
        raise StoreError(f"{path}: {len(bad)} rows not finite (first: sample {bad[0]})")
