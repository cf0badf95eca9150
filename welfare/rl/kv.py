"""A KV cache whose rows are packed per episode: no padding is ever stored.

A batched rollout feeds each turn's new tokens right-padded to the longest row of the turn. A
`DynamicCache` appends the padded chunk as it is, so every padding column stays in the cache
(and in every later turn's attention) forever: with wind sentences (≈ 30 tokens instead of ≈ 20
in a few rows) about a third of the cache is padding after 15 turns. Here token j of row b is
written at its own absolute position `seen_b + j` in a preallocated buffer, so a row's real
tokens are always the columns [0, seen_b) and the cache is as wide as the longest *row*, not the
sum of the turns' longest chunks. A chunk's padding columns land past the row's end; no real
query ever sees them (causality by absolute position) and the next turn overwrites them.

One plain causal mask by absolute position, built once per forward call and shared by every
layer, is then exact: query at position p sees the columns c ≤ p, which are exactly the row's
own earlier tokens. The buffer grows geometrically, so a turn costs a scatter, not a
`torch.cat` of the whole cache.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import chain
from typing import Any

import numpy as np
import torch
from transformers.cache_utils import Cache, CacheLayerMixin


class _Plan:
    """Where the current forward call's tokens go: shared by every layer of one cache."""

    def __init__(self) -> None:
        self.positions: torch.Tensor | None = None  # [rows, width] absolute positions
        self.rows: torch.Tensor | None = None  # [rows] episode of each row; None: row i = i
        self.start: int | None = None  # every row starts at this position (a plain slice)
        self.width = 0  # columns the attention sees: max over rows of (position + 1)


class _PackedLayer(CacheLayerMixin):
    is_sliding = False

    def __init__(self, plan: _Plan, capacity: int) -> None:
        super().__init__()
        self.plan = plan
        self.capacity = capacity

    def lazy_initialization(self, key_states: torch.Tensor, value_states: torch.Tensor) -> None:
        batch, heads, _, dim = key_states.shape
        rows = self.plan.rows
        # One row per episode (the first call may already be segments), then spare rows for
        # the extra segments of later turns.
        self.episodes = batch if rows is None else int(rows.max()) + 1
        spare = max(rows_needed(rows) - self.episodes, self.episodes // 4)
        shape = (self.episodes + spare, heads, self.capacity)
        # Uninitialised: columns are zeroed as the attended width reaches them (`write`), so the
        # buffer's untouched tail costs nothing; masked columns must hold finite values (a
        # zero attention weight times NaN is NaN), and zeros are.
        self.keys = key_states.new_empty((*shape, dim))
        self.values = value_states.new_empty((*shape, value_states.shape[-1]))
        self.zeroed = 0
        self.device = key_states.device
        self.is_initialized = True

    def _grow(self, rows: int, columns: int) -> None:
        """At least `rows` rows and `columns` columns (zeros appended): columns double, rows
        (spares for extra segments) grow by a quarter of the episodes."""
        have_rows = self.keys.shape[0]
        if rows > have_rows:
            rows = max(rows, have_rows + self.episodes // 4)
        columns = max(columns, 2 * self.capacity) if columns > self.capacity else self.capacity
        pad = (0, 0, 0, columns - self.capacity, 0, 0, 0, max(rows - have_rows, 0))
        self.keys = torch.nn.functional.pad(self.keys, pad)
        self.values = torch.nn.functional.pad(self.values, pad)
        self.capacity = columns

    def write(
        self, key_states: torch.Tensor, value_states: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Store this call's keys and values; return all episode rows' [episodes, h, width, d]."""
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
        plan = self.plan
        if plan.width > self.capacity or rows_needed(plan.rows) > self.keys.shape[0]:
            self._grow(rows_needed(plan.rows), plan.width)
        if plan.width > self.zeroed:
            self.keys[:, :, self.zeroed : plan.width] = 0
            self.values[:, :, self.zeroed : plan.width] = 0
            self.zeroed = plan.width
        assert plan.positions is not None
        keys, values = self.keys[: self.episodes], self.values[: self.episodes]
        if plan.rows is not None:  # segments of episodes: write each where it belongs
            episode = plan.rows[:, None]
            keys[episode, :, plan.positions] = key_states.transpose(1, 2)
            values[episode, :, plan.positions] = value_states.transpose(1, 2)
        elif plan.start is not None:  # all rows aligned (turn 0): a slice copy
            end = plan.start + key_states.shape[2]
            keys[:, :, plan.start : end] = key_states
            values[:, :, plan.start : end] = value_states
        else:
            index = plan.positions[:, None, :, None]
            keys.scatter_(2, index.expand_as(key_states), key_states)
            values.scatter_(2, index.expand_as(value_states), value_states)
        return keys[:, :, : plan.width], values[:, :, : plan.width]

    def update(
        self, key_states: torch.Tensor, value_states: torch.Tensor, *args: Any, **kwargs: Any
    ) -> tuple[torch.Tensor, torch.Tensor]:
        keys, values = self.write(key_states, value_states)
        rows, width = self.plan.rows, self.plan.width
        if rows is None:
            return keys, values
        # Every segment attends over its episode's row, this call's tokens included. The first
        # segments are rows 0..episodes-1 (`split_turn`), so only the extra ones are copied.
        extra = rows[self.episodes :]
        spill = slice(self.episodes, self.episodes + len(extra))
        self.keys[spill, :, :width] = keys.index_select(0, extra)
        self.values[spill, :, :width] = values.index_select(0, extra)
        return self.keys[: spill.stop, :, :width], self.values[: spill.stop, :, :width]

    def get_mask_sizes(self, query_length: int) -> tuple[int, int]:
        return self.plan.width, 0

    def get_seq_length(self) -> int:
        return self.plan.width

    def get_max_length(self) -> int:
        return -1


class PackedCache(Cache):
    """Per-row packed KV cache for one rollout (see the module docstring).

    Call `plan(positions)` before every forward call; pass the `attention_mask` it returns (a
    ready 4D mask, which transformers uses as is) and the same `positions` as position ids.
    """

    def __init__(self, model: Any, capacity: int = 256) -> None:
        config = (
            model.config.get_text_config()
            if hasattr(model.config, "get_text_config")
            else (model.config)
        )
        self._plan = _Plan()
        self._implementation = getattr(config, "_attn_implementation", "sdpa") or "sdpa"
        if self._implementation not in ("sdpa", "eager"):
            raise ValueError(
                f"packed rollout cache needs sdpa or eager attention, not {self._implementation!r}"
            )
        self._window = sliding_window(config)
        self._dtype = next(model.parameters()).dtype
        layers = [_PackedLayer(self._plan, capacity) for _ in range(config.num_hidden_layers)]
        super().__init__(layers=layers)

    def write(
        self, layer: int, key_states: torch.Tensor, value_states: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Store layer `layer`'s keys and values of this call; return every episode row's
        [episodes, heads, width, d] (not one per segment row, as `update` does)."""
        return self.layers[layer].write(key_states, value_states)

    def plan(self, positions: torch.Tensor, rows: torch.Tensor | None = None) -> torch.Tensor:
        """Set where the next call's tokens go; return its 4D mask [rows, 1, width, kv].

        positions: [rows, width] absolute positions. rows: the episode (cache row) of each input
        row, when a row is a segment of an episode's chunk (`split_turn`); None: row i is
        episode i.
        """
        plan = self._plan
        first = positions[:, 0]
        plan.rows = rows
        plan.positions = positions
        aligned = rows is None and bool((first == first[0]).all())
        plan.start = int(first[0]) if aligned else None
        plan.width = int(positions[:, -1].max()) + 1
        if self._window is not None and plan.width > self._window:
            raise ValueError(
                f"sliding-window attention (window {self._window}) is not supported by the "
                f"packed rollout cache beyond {self._window} tokens"
            )
        visible = torch.arange(plan.width, device=positions.device) <= positions[:, None, :, None]
        if self._implementation == "eager":  # eager attention adds its mask
            zero = torch.zeros((), dtype=self._dtype, device=positions.device)
            return torch.where(visible, zero, torch.finfo(self._dtype).min)
        return visible


def rows_needed(rows: torch.Tensor | None) -> int:
    """Cache rows a call with these segment rows uses (0 without segments)."""
    return 0 if rows is None else len(rows)


def sliding_window(config: Any) -> int | None:
    """The attention window of a model whose layers use one, else None."""
    layer_types = getattr(config, "layer_types", None) or []
    window = getattr(config, "sliding_window", None)
    sliding = not layer_types or "sliding_attention" in layer_types
    if window and sliding and getattr(config, "use_sliding_window", True):
        return int(window)
    return None


@dataclass(frozen=True)
class Segments:
    """One turn's new tokens cut into equal-width rows (segments of the episodes' chunks)."""

    input_ids: torch.Tensor  # [rows, width], right-padded
    position_ids: torch.Tensor  # [rows, width] absolute positions (padding continues past the end)
    rows: torch.Tensor | None  # [rows] episode of each row; None when row i is episode i
    last: torch.Tensor  # [episodes, 2]: (row, column) of each episode's last new token


def split_turn(
    chunks: Sequence[Sequence[int]], seen: torch.Tensor, pad_id: int, segment: bool = True
) -> Segments:
    """Lay out one turn's chunks (episode b's new tokens, starting at position seen[b]).

    Without `segment`, one row per episode, right-padded to the longest chunk. With it, every
    chunk is cut into rows of the width that minimises the padded token count: turns are mostly
    one length (≈ 18 tokens here) with a few rows longer by a wind sentence (≈ 29), so padding
    every row to the longest wastes a third of the turn's work, while a second row for each
    long chunk costs only its own tokens. Segments of one episode are exact: the cache writes
    every segment's keys and values before any row attends (`PackedCache`). Rows are ordered
    by segment: every episode's first segment (row b = episode b), then the second segments,
    and so on, so the cache hands the first rows their episodes' keys without a copy.
    """
    lengths = np.fromiter(map(len, chunks), dtype=np.int64, count=len(chunks))
    if not len(lengths) or lengths.min() < 1:
        raise ValueError("split_turn: every episode's chunk needs at least one token")
    width = int(lengths.max())
    if segment:  # the fewest padded tokens; on a tie the widest (fewer rows)
        widths = np.unique(lengths)
        padded = (-(-lengths // widths[:, None]) * widths[:, None]).sum(1)
        width = int(widths[np.lexsort((-widths, padded))[0]])
    # Vectorised (a Python loop over rows was a twentieth of a small organism's rollout).
    n_segments = -(-lengths // width)
    segment_of, episode = np.nonzero(np.arange(n_segments.max())[:, None] < n_segments)
    offset = segment_of * width  # rows ordered by segment, then episode
    column = offset[:, None] + np.arange(width)
    ends = np.cumsum(lengths)
    flat = np.fromiter(chain.from_iterable(chunks), dtype=np.int64, count=int(ends[-1]))
    source = np.minimum((ends - lengths)[episode, None] + column, len(flat) - 1)
    input_ids = np.where(column < lengths[episode, None], flat[source], pad_id)
    positions = (seen.cpu().numpy()[episode] + offset)[:, None] + np.arange(width)
    last_row = np.empty(len(chunks), dtype=np.int64)
    is_last = offset + width >= lengths[episode]
    last_row[episode[is_last]] = np.nonzero(is_last)[0]
    last = np.stack([last_row, lengths - 1 - (n_segments - 1) * width], axis=1)
    rows = None if len(episode) == len(chunks) else torch.from_numpy(episode)
    return Segments(
        torch.from_numpy(input_ids),
        torch.from_numpy(positions),
        rows,
        torch.from_numpy(last),
    )


@contextmanager
def native_gqa(device: torch.device) -> Iterator[None]:
    """Let transformers' SDPA attention use torch's grouped-query attention on CPU.

    With a mask, transformers copies every key/value head `n_heads / n_kv_heads` times
    (`repeat_kv`) before SDPA, for every layer of every call; on CPU, SDPA's own `enable_gqa`
    gives the same numbers without the copies (2× faster attention for a short chunk against a
    long cache here). transformers reads this switch at each call; on CUDA it is left alone
    (masked GQA falls back to a slower kernel there).
    """
    if device.type != "cpu":
        yield
        return
    previous = os.environ.get(_FORCE_GQA)
    os.environ[_FORCE_GQA] = "1"
    try:
        yield
    finally:
        if previous is None:
            del os.environ[_FORCE_GQA]
        else:
            os.environ[_FORCE_GQA] = previous


_FORCE_GQA = "TRANSFORMERS_SDPA_FORCE_GQA"
