"""Pretraining data: chat rows tokenized with the chat template, packed into fixed-length blocks.

Whole documents are packed greedily (none is split across blocks) and the tail of a block is
padding with no loss, so every document is seen with its beginning. `loss_mask` selects which
targets count: every token, or only assistant-turn tokens (the role token's successors up to and
including the end-of-turn token).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import astuple, dataclass, replace
from typing import Any

import numpy as np

from welfare.corpus.chat_format import ASSISTANT, CHAT_TEMPLATE, END
from welfare.corpus.generate import fresh_row_maker
from welfare.model.pretrain_config import CURRICULUM_SEED_OFFSET, FRESH_SEED_OFFSET, PretrainConfig

# make(rng, index) -> a corpus Row (welfare.corpus.generate.fresh_row_maker)
RowMaker = Callable[[np.random.Generator, int], Any]


def encode_row(tokenizer: Any, messages: Sequence[Mapping[str, str]]) -> list[int]:
    return list(tokenizer.apply_chat_template(list(messages), tokenize=True, return_dict=False))


def assistant_mask(ids: Sequence[int], assistant_id: int, end_id: int) -> np.ndarray:
    """True at tokens inside assistant turns (after the role token, through its end token)."""
    mask = np.zeros(len(ids), dtype=bool)
    inside = False
    for i, token in enumerate(ids):
        if inside:
            mask[i] = True
            if token == end_id:
                inside = False
        elif token == assistant_id:
            inside = True
    return mask


@dataclass
class Blocks:
    """Packed blocks [n, seq_len + 1]: token ids, loss weights (on targets), and position ids
    that restart at 0 with every document. Given as `position_ids` (and no attention mask),
    transformers reads the restarts as document boundaries, so a document attends only to
    itself, exactly as it will be read alone at inference (`pretrain.document_mask`)."""

    ids: np.ndarray
    weights: np.ndarray
    positions: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index: Any) -> Blocks:
        return Blocks(self.ids[index], self.weights[index], self.positions[index])

    @staticmethod
    def concatenate(parts: Sequence[Blocks]) -> Blocks:
        return Blocks(*(np.concatenate(a) for a in zip(*(astuple(p) for p in parts), strict=True)))


def loss_weights(tokenizer: Any, ids: Sequence[int], loss_on: str) -> np.ndarray:
    if loss_on == "all":
        return np.ones(len(ids), dtype=np.float32)
    a, e = tokenizer.convert_tokens_to_ids(ASSISTANT), tokenizer.convert_tokens_to_ids(END)
    return assistant_mask(ids, a, e).astype(np.float32)


def pack(docs: Iterable[tuple[list[int], np.ndarray]], seq_len: int, pad_id: int) -> Blocks:
    """Greedy packing of (ids, weights) documents into blocks of `seq_len` (+1 for the shift)."""
    width = seq_len + 1
    blocks_ids: list[np.ndarray] = []
    blocks_w: list[np.ndarray] = []
    blocks_pos: list[np.ndarray] = []
    cur_ids: list[int] = []
    cur_w: list[float] = []
    cur_pos: list[int] = []

    def flush() -> None:
        if not cur_ids:
            return
        ids = np.full(width, pad_id, dtype=np.int64)
        w = np.zeros(width, dtype=np.float32)
        ids[: len(cur_ids)] = cur_ids
        w[: len(cur_w)] = cur_w
        # The padding tail is a document of its own (positions from 0): nothing attends to it.
        pos = np.arange(width, dtype=np.int64) - len(cur_pos)
        pos[: len(cur_pos)] = cur_pos
        blocks_ids.append(ids)
        blocks_w.append(w)
        blocks_pos.append(pos)
        cur_ids.clear()
        cur_w.clear()
        cur_pos.clear()

    for ids, weights in docs:
        ids, weights = ids[:width], weights[:width]
        if len(cur_ids) + len(ids) > width:
            flush()
        cur_ids.extend(ids)
        cur_w.extend(weights.tolist())
        cur_pos.extend(range(len(ids)))
    flush()
    if not blocks_ids:
        empty = np.zeros((0, width))
        return Blocks(empty.astype(np.int64), empty.astype(np.float32), empty.astype(np.int64))
    return Blocks(np.stack(blocks_ids), np.stack(blocks_w), np.stack(blocks_pos))


def encode_rows(
    tokenizer: Any, rows: Sequence[Mapping[str, Any]], loss_on: str
) -> list[tuple[list[int], np.ndarray]]:
    """Token ids and loss weights of every row, as the chat template encodes them.

    For the organism's own template (role token, content, end token; nothing in between) the
    contents are encoded in one batched call, which is what the template yields and ~20× faster
    than rendering the template row by row; any other template is rendered.
    """
    if tokenizer.chat_template == CHAT_TEMPLATE:
        encoded = _encode_organism_template(tokenizer, rows)
    else:
        encoded = [encode_row(tokenizer, row["messages"]) for row in rows]
    return [(ids, loss_weights(tokenizer, ids, loss_on)) for ids in encoded]


def _encode_organism_template(tokenizer: Any, rows: Sequence[Mapping[str, Any]]) -> list[list[int]]:
    contents = [m["content"] for row in rows for m in row["messages"]]
    pieces = iter(tokenizer(contents, add_special_tokens=False)["input_ids"])
    end = tokenizer.convert_tokens_to_ids(END)
    role_ids: dict[str, int] = {}
    encoded = []
    for row in rows:
        ids: list[int] = []
        for message in row["messages"]:
            role = message["role"]
            if role not in role_ids:
                role_ids[role] = tokenizer.convert_tokens_to_ids(f"<|{role}|>")
            ids += [role_ids[role], *next(pieces), end]
        encoded.append(ids)
    return encoded


def epoch_blocks(
    docs: Sequence[tuple[list[int], np.ndarray]], seq_len: int, pad_id: int, seed: int, epoch: int
) -> Blocks:
    """The blocks of one epoch: documents shuffled by (seed, epoch), packed, blocks shuffled."""
    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(len(docs))
    blocks = pack((docs[i] for i in order), seq_len, pad_id)
    return blocks[rng.permutation(len(blocks))]


class BlockSchedule:
    """Batch `i` of a stream of epochs: a pure function of (docs, seed, i), so a resumed run
    sees exactly the batches an uninterrupted one would. Steps per epoch are fixed by epoch 0's
    packing; later epochs are re-shuffled and re-packed from (seed, epoch)."""

    def __init__(
        self,
        docs: Sequence[tuple[list[int], np.ndarray]],
        seq_len: int,
        batch_size: int,
        pad_id: int,
        seed: int,
    ) -> None:
        self.docs, self.seq_len, self.batch_size = docs, seq_len, batch_size
        self.pad_id, self.seed = pad_id, seed
        self.epoch = 0
        self.blocks = epoch_blocks(docs, seq_len, pad_id, seed, 0)
        self.per_epoch = max(len(self.blocks) // batch_size, 1)

    def batch_blocks(self, index: int) -> Blocks:
        if index // self.per_epoch != self.epoch:
            self.epoch = index // self.per_epoch
            self.blocks = epoch_blocks(self.docs, self.seq_len, self.pad_id, self.seed, self.epoch)
        last_start = max(len(self.blocks) - self.batch_size, 0)
        start = min((index % self.per_epoch) * self.batch_size, last_start)
        return self.blocks[start : start + self.batch_size]

    def batch(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        blocks = self.batch_blocks(index)
        return blocks.ids, blocks.weights


def fresh_blocks(
    cfg: PretrainConfig, configs: Mapping[str, Mapping[str, Any]], tokenizer: Any
) -> FreshBlocks | None:
    """The fresh rows of `cfg.phases` (None when `cfg.fresh_blocks` is 0), drawn with the
    genre configs `configs` (`welfare.corpus.generate.genre_configs`)."""
    if not cfg.fresh_blocks:
        return None
    phases = tuple(
        (p.start, fresh_row_maker(configs, p.fresh_genres, p.fresh_overrides)) for p in cfg.phases
    )
    seed = cfg.seed + FRESH_SEED_OFFSET
    return FreshBlocks(phases, tokenizer, cfg.loss_on, cfg.seq_len, cfg.fresh_blocks, seed)


@dataclass(frozen=True)
class FreshBlocks:
    """Blocks of rows generated on the fly: batch `i` is a pure function of (seed, i), so a
    resumed run sees exactly the rows an uninterrupted one would, and no row repeats.

    `phases`: (first step, row maker) pairs in order of step, the first at step 0 — a
    curriculum (e.g. scenes naming fewer directions first, judgment rows last)."""

    phases: tuple[tuple[int, RowMaker], ...]
    tokenizer: Any
    loss_on: str
    seq_len: int
    n_blocks: int
    seed: int

    def __post_init__(self) -> None:
        starts = [start for start, _ in self.phases]
        if not starts or starts[0] != 0 or starts != sorted(set(starts)):
            raise ValueError(f"FreshBlocks: phases must start at step 0, in order; got {starts}")

    def maker_at(self, index: int) -> RowMaker:
        """The row maker of batch `index`'s phase."""
        return [make for start, make in self.phases if start <= index][-1]

    def reseeded(self, seed: int) -> FreshBlocks:
        """The same recipe drawn from another seed (a restarted pretraining try)."""
        return replace(self, seed=seed)

    def batch_blocks(self, index: int) -> Blocks:
        rng = np.random.default_rng([self.seed, index])
        make_row = self.maker_at(index)
        docs: list[tuple[list[int], np.ndarray]] = []
        width, tokens, made = self.seq_len + 1, 0, 0
        # Generate in chunks (the tokenizer is fastest batched) until the rows cannot fit in
        # `n_blocks` blocks: then greedy packing makes `n_blocks` full blocks and a tail.
        while tokens <= self.n_blocks * width:
            rows = [make_row(rng, index * 100_000 + made + k).to_json() for k in range(32)]
            made += len(rows)
            new = encode_rows(self.tokenizer, rows, self.loss_on)
            docs += new
            tokens += sum(min(len(ids), width) for ids, _ in new)
        blocks = pack(docs, self.seq_len, self.tokenizer.pad_token_id)
        return blocks[: self.n_blocks]

    def batch(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        blocks = self.batch_blocks(index)
        return blocks.ids, blocks.weights


Docs = Sequence[tuple[list[int], np.ndarray]]


class BatchSource:
    """The blocks of one try, step by step: the corpus's blocks of the step's phase (every
    genre, or a curriculum's genres), then, with fresh rows, `cfg.fresh_blocks` blocks of rows
    made on the fly. Batch `step` is a pure function of (docs, seed, step), so a resumed run
    sees exactly the batches an uninterrupted one would.

    Fresh rows are made by Python code that holds the GIL while the model's kernels release it:
    one thread makes the next step's rows while this step trains (`close` ends it).

    The corpus's blocks come from one stream per genre set, each indexed by the steps that drew
    from it before: every genre from `seed` (`batch_size - fresh_blocks` blocks per batch), a
    curriculum's genres from `seed + 1` (whole batches, of which the fresh rows' share is cut
    off, as the curriculum has always drawn them)."""

    def __init__(
        self,
        docs: Docs,
        genres: Sequence[str],
        cfg: PretrainConfig,
        fresh: FreshBlocks | None,
        pad_id: int,
        seed: int,
    ) -> None:
        self.cfg, self.seed, self.pad_id = cfg, seed, pad_id
        fresh = fresh if fresh is not None and fresh.n_blocks else None
        self.n_fresh = fresh.n_blocks if fresh is not None else 0
        # The fresh rows' seed keeps its offset from the try's (`fresh_blocks`: pretrain.seed + 2
        # on the first try).
        offset = seed - cfg.seed
        self.fresh = fresh.reseeded(fresh.seed + offset) if fresh is not None else None
        self.streams: dict[tuple[str, ...] | None, BlockSchedule] = {}
        self.offsets: list[int] = []  # per phase: its stream's index is step - offset
        drawn: dict[tuple[str, ...] | None, int] = {}
        ends = [p.start for p in cfg.phases[1:]] + [cfg.steps]
        for phase, end in zip(cfg.phases, ends, strict=True):
            key = phase.corpus_genres
            if key not in self.streams:
                self.streams[key] = self._stream(docs, genres, key, pad_id)
            self.offsets.append(phase.start - drawn.get(key, 0))
            drawn[key] = drawn.get(key, 0) + max(end - phase.start, 0)
        self._prefetch = ThreadPoolExecutor(max_workers=1) if self.fresh is not None else None
        self._upcoming: tuple[int, Future] | None = None

    def _stream(
        self, docs: Docs, genres: Sequence[str], only: tuple[str, ...] | None, pad_id: int
    ) -> BlockSchedule:
        cfg = self.cfg
        if only is None:
            blocks = max(cfg.batch_size - self.n_fresh, 1)
            return BlockSchedule(docs, cfg.seq_len, blocks, pad_id, self.seed)
        chosen = [d for d, genre in zip(docs, genres, strict=True) if genre in set(only)]
        if not chosen:
            raise ValueError(f"pretrain.curriculum.genres {sorted(only)}: no such rows")
        seed = self.seed + CURRICULUM_SEED_OFFSET
        return BlockSchedule(chosen, cfg.seq_len, cfg.batch_size, pad_id, seed)

    @property
    def corpus(self) -> BlockSchedule:
        """The stream of every genre (or the first phase's)."""
        return self.streams.get(None) or next(iter(self.streams.values()))

    def batch(self, step: int) -> Blocks:
        index = self.cfg.phase_index(step)
        stream = self.streams[self.cfg.phases[index].corpus_genres]
        blocks = stream.batch_blocks(step - self.offsets[index])
        if self.fresh is None:
            return blocks
        rows = self._fresh_rows(step)
        return Blocks.concatenate([blocks[: self.cfg.batch_size - self.n_fresh], rows])

    def _fresh_rows(self, step: int) -> Blocks:
        assert self.fresh is not None and self._prefetch is not None
        upcoming, self._upcoming = self._upcoming, None
        if upcoming is not None and upcoming[0] == step:
            rows = upcoming[1].result()
        else:
            rows = self.fresh.batch_blocks(step)
        if step + 1 < self.cfg.steps:
            self._upcoming = (step + 1, self._prefetch.submit(self.fresh.batch_blocks, step + 1))
        return rows

    def close(self) -> None:
        """Wait for the thread's rows and end it (before another try or the end)."""
        if self._upcoming is not None:
            self._upcoming[1].result()
            self._upcoming = None
        if self._prefetch is not None:
            self._prefetch.shutdown(cancel_futures=True)
