"""Record the block outputs of a set of chats into an activation store (the stage's core).

Samples are stored train split first, then held-out, each sorted by token length: batches pad
little, and the out-of-core axis passes read only the chunks of the split they need.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from welfare.activations.blocks import find_decoder_blocks
from welfare.activations.record import record_chats
from welfare.activations.render import RenderedChat
from welfare.activations.store import ActivationStoreWriter, StoreLayout, blosc_codec

log = logging.getLogger(__name__)

HOOK_SITE = "decoder block output (residual stream after block l = hidden_states[l+1] pre-norm)"


@dataclass(frozen=True)
class ActivationSettings:
    """`params.activations`."""

    dtype: Literal["float16", "float32"] = "float16"
    positions: tuple[str, ...] = ("letter", "decision")  # named (welfare.activations.record)
    padding_side: Literal["left", "right"] = "left"
    batch_size: int = 16
    max_batch_tokens: int = 16384
    chunk_mb: float = 4.0
    layers_per_chunk: int = 4
    compressor: str = "zstd"
    compression_level: int = 3
    shuffle: str = "bitshuffle"

    @classmethod
    def from_params(cls, section: Mapping[str, Any]) -> ActivationSettings:
        values = dict(section)
        if "positions" in values:
            values["positions"] = tuple(values["positions"])
        return cls(**values)


def store_order(splits: Sequence[str], lengths: Sequence[int]) -> np.ndarray:
    """Permutation putting the train split first, then held-out, each by increasing length."""
    split_rank = np.array([0 if s == "train" else 1 for s in splits])
    return np.lexsort((np.arange(len(lengths)), np.asarray(lengths), split_rank))


def weights_fingerprint(model_dir: str | Path) -> str:
    """A cheap revision id of local weights: hash of the safetensors headers and sizes."""
    model_dir = Path(model_dir)
    digest = hashlib.sha256()
    files = sorted(model_dir.glob("*.safetensors")) if model_dir.is_dir() else []
    for file in files:
        with open(file, "rb") as fh:
            header_len = int.from_bytes(fh.read(8), "little")
            digest.update(fh.read(min(header_len, 1 << 24)))
        digest.update(f"{file.name}:{file.stat().st_size}".encode())
    return digest.hexdigest()[:16] if files else "unknown"


def capture_to_store(
    model: Any,
    chats: Sequence[RenderedChat],
    coords: Mapping[str, np.ndarray],
    out: str | Path,
    settings: ActivationSettings,
    attrs: Mapping[str, Any],
    pad_id: int = 0,
    stop_after_last: bool = True,
) -> Path:
    """Record `chats` (already in store order) into the store at `out`; resume if possible."""
    from tqdm.auto import tqdm

    n_layers = len(find_decoder_blocks(model))
    layout = StoreLayout(
        n_samples=len(chats),
        n_layers=n_layers,
        d_model=int(model.config.hidden_size),
        n_positions=len(settings.positions),
        dtype=settings.dtype,
        position_labels=settings.positions,
    )
    full_attrs = {
        **attrs,
        "hook_site": HOOK_SITE,
        "positions": list(settings.positions),
        "padding_side": settings.padding_side,
        "dtype": settings.dtype,
    }
    writer = ActivationStoreWriter(
        Path(out),
        layout,
        coords,
        full_attrs,
        chunk_mb=settings.chunk_mb,
        layers_per_chunk=settings.layers_per_chunk,
        compressor=blosc_codec(settings.compressor, settings.compression_level, settings.shuffle),
    )
    with writer:
        todo = chats[writer.n_done :]
        bar = tqdm(total=len(chats), initial=writer.n_done, desc="activations", unit="sample")
        for batch in record_chats(
            model,
            todo,
            position=settings.positions,
            pad_id=pad_id,
            padding_side=settings.padding_side,
            max_batch_size=settings.batch_size,
            max_batch_tokens=settings.max_batch_tokens,
            stop_after_last=stop_after_last,
        ):
            writer.write(batch.activations)  # (b, P, L, d): one forward, P gathers
            bar.update(len(batch.activations))
        bar.close()
    return Path(out)
