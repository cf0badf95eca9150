"""`pretrain` end to end: the maze-naive organism on the corpus, AdamW, warmup + cosine.

Read `pretrain` top to bottom: the resume state (if any, and only under the same params, corpus
and tokenizer: one of others is moved to `<out>.resume.stale-T`), the try's model, optimizer and
batch source (`welfare.model.data.BatchSource`: the phases' corpus blocks and fresh rows), then
per step: one AdamW step, a curve row, and now and then the reading probe, the restart rule and
a resume state. Every `checkpoint_every` steps the model, optimizer, step and elapsed time go to
`<out>.resume/state.pt` (atomically); a restarted run continues from there with the same data
(batches are a pure function of (seed, step)). At the end the model is saved with
`save_pretrained` (safetensors) together with its tokenizer, and the resume state is removed,
unless `keep_resume` (the CLI, while acceptance runs): then it is saved at the final step and
`discard_resume` removes it once acceptance is written, so a kill during acceptance reruns
acceptance only, not pretraining.

The restart rule (`PretrainConfig.restart`): whether the reading circuit binds is close to a
coin flip per seed at organism size (bench/organism.md), and it shows early. So at each of its
checks the reading probe is read and, if a named accuracy is below the bar, training starts over
as `seed + 1000` would (initialisation and data), up to `max_tries` tries in all. Every probe of
every try is kept in the metrics, and the wall time counts them all.
"""

from __future__ import annotations

import csv
import logging
import math
import shutil
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from welfare.config import params_hash
from welfare.io import atomic_path, write_json
from welfare.lm import head_logits
from welfare.model.acceptance import NeighbourProbe, judgment_auroc, judgment_rows
from welfare.model.data import BatchSource, Blocks, FreshBlocks, encode_rows
from welfare.model.organism import ORGANISM_MARKER, build_organism
from welfare.model.pretrain_config import PretrainConfig, RestartRule
from welfare.model.reading_probe import PROBE_SERIES, ReadingProbe

log = logging.getLogger(__name__)

CURVE_COLUMNS = ("step", "tokens", "lr", "train_loss", "elapsed_s")
PROBE_COLUMNS = ("try", "seed", "step", "elapsed_s", *PROBE_SERIES)


@dataclass
class PretrainResult:
    steps: int
    tokens: int
    wall_s: float
    final_train_loss: float
    heldout_loss: dict[str, float]
    curve: list[dict[str, float]] = field(default_factory=list)
    n_parameters: int = 0
    probes: list[dict[str, float]] = field(default_factory=list)
    tries: int = 1
    seed: int = 0


def pretrain(
    train_rows: Sequence[Mapping[str, Any]],
    heldout_rows: Sequence[Mapping[str, Any]],
    tokenizer: Any,
    cfg: PretrainConfig,
    out: str | Path,
    curve_path: str | Path | None = None,
    fresh: FreshBlocks | None = None,
    device: str = "cpu",
    probe: ReadingProbe | None = None,
    neighbours: NeighbourProbe | None = None,
    keep_resume: bool = False,
) -> tuple[Any, PretrainResult]:
    """Train a fresh organism (or resume one) and save it to `out`; return (model, result).

    With `fresh` (`welfare.model.data.fresh_blocks`), `cfg.fresh_blocks` blocks of every batch
    are rows generated on the fly and the rest come from the corpus. With `probe`, reading is
    measured every `cfg.probe.every` steps, at the restart rule's checks and at the end (with the
    judgment, P(True) AUROC on `cfg.probe.n` held-out confidence questions, and with
    `neighbours`, the neighbour probe), and the restart rule can start over."""
    out = Path(out)
    if cfg.restart.checks and probe is None:
        raise ValueError("pretrain.restart needs the reading probe (pretrain.reading_probe.n > 0)")
    docs = encode_rows(tokenizer, train_rows, cfg.loss_on)
    genres = [row["genre"] for row in train_rows]
    fingerprint = resume_fingerprint(cfg.section, tokenizer, train_rows)
    state = _load_resume(out, fingerprint, device)
    progress = Progress.resumed(state)

    def start_try(tries: int) -> Try:
        seed = RestartRule.seed(cfg.seed, tries)
        model = build_organism(cfg.model, tokenizer, seed).to(device)
        batches = BatchSource(docs, genres, cfg, fresh, tokenizer.pad_token_id, seed)
        return Try.start(seed, model, cfg, batches)

    run = start_try(progress.tries)
    if state is not None:
        run.model.load_state_dict(state["model"])
        run.optimizer.load_state_dict(state["optimizer"])
        log.info("resuming pretraining from step %d (try %d)", progress.step, progress.tries)
    n_params = sum(p.numel() for p in run.model.parameters())
    n_blocks = len(run.batches.corpus.blocks)
    log.info(
        "organism: %d parameters, %d documents, %d blocks per epoch", n_params, len(docs), n_blocks
    )
    progress.start_clock()
    prober = Prober(probe, neighbours, judgment_rows(heldout_rows, cfg.probe.n), tokenizer)
    bar = tqdm(total=cfg.steps, initial=progress.step, desc="pretrain", mininterval=5)
    while progress.step < cfg.steps:
        step = progress.step
        loss, tokens = train_step(run, run.batches.batch(step), cfg, step, device)
        progress.record(step + 1, tokens, cfg.learning_rate(step), loss)
        bar.update(1)
        bar.set_postfix(loss=f"{loss:.3f}", refresh=False)
        done = step + 1  # steps this try has trained
        accuracy = prober.measure(run, progress) if prober.due(done, cfg) else None
        failed = [] if accuracy is None else cfg.restart.failed(done, accuracy, progress.tries)
        if failed:
            _log_restart(failed, accuracy, cfg.restart, done, progress.tries)
            run.batches.close()  # the prefetch thread must not use the old try's rows
            progress.next_try()
            run = start_try(progress.tries)
            bar.reset(total=cfg.steps)
        if failed or (progress.step % cfg.checkpoint_every == 0 and progress.step < cfg.steps):
            _save_resume(out, run, progress, progress.elapsed(), fingerprint)
    bar.close()
    run.batches.close()
    if probe is not None and (not progress.probes or progress.probes[-1]["step"] != progress.step):
        prober.measure(run, progress)
    wall = progress.elapsed()
    if keep_resume:
        _save_resume(out, run, progress, wall, fingerprint)
    run.model.eval()
    heldout = heldout_losses(run.model, tokenizer, heldout_rows, cfg)
    _save_organism(out, run, tokenizer, cfg, progress, n_params)
    if curve_path is not None:
        write_curve(progress.curve, curve_path)
    if not keep_resume:
        discard_resume(out)
    return run.model, progress.result(wall, heldout, n_params, run.seed)


@dataclass
class Try:
    """One try's model, optimizer and batches, all drawn from `seed`."""

    seed: int
    model: Any
    optimizer: Any
    batches: BatchSource

    @classmethod
    def start(cls, seed: int, model: Any, cfg: PretrainConfig, batches: BatchSource) -> Try:
        import torch

        model.train()
        groups = param_groups(model, cfg.weight_decay)
        optimizer = torch.optim.AdamW(groups, lr=cfg.lr, betas=(0.9, 0.95))
        return cls(seed, model, optimizer, batches)


@dataclass
class Progress:
    """Where the run stands: the try, its step, tokens and loss curve, and every probe of
        every try; `started` is the `perf_counter` origin of the wall time (resumes included), set
    once the try's model is built."""

    step: int = 0
    tokens: int = 0
    loss: float = math.nan
    curve: list[dict[str, float]] = field(default_factory=list)
    tries: int = 1
    probes: list[dict[str, float]] = field(default_factory=list)
    resumed_s: float = 0.0  # wall time of the run before this process resumed it
    started: float = math.nan

    @classmethod
    def resumed(cls, state: Mapping[str, Any] | None) -> Progress:
        if state is None:
            return cls()
        curve = list(state["curve"])
        return cls(
            step=int(state["step"]),
            tokens=int(curve[-1]["tokens"]) if curve else 0,
            loss=float(curve[-1]["train_loss"]) if curve else math.nan,
            curve=curve,
            tries=int(state.get("tries", 1)),
            probes=list(state.get("probes", [])),
            resumed_s=float(state["elapsed"]),
        )

    def start_clock(self) -> None:
        self.started = time.perf_counter() - self.resumed_s

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def record(self, step: int, tokens: int, lr: float, loss: float) -> None:
        self.step, self.tokens, self.loss = step, self.tokens + tokens, loss
        row = {"step": step, "tokens": self.tokens, "lr": lr, "train_loss": loss}
        self.curve.append({**row, "elapsed_s": self.elapsed()})

    def result(
        self, wall: float, heldout: dict[str, float], n_params: int, seed: int
    ) -> PretrainResult:
        return PretrainResult(
            self.step,
            self.tokens,
            wall,
            self.loss,
            heldout,
            self.curve,
            n_params,
            self.probes,
            self.tries,
            seed,
        )

    def next_try(self) -> None:
        self.tries += 1
        self.step, self.tokens, self.curve = 0, 0, []


def train_step(
    run: Try, batch: Blocks, cfg: PretrainConfig, step: int, device: str
) -> tuple[float, int]:
    """One AdamW step on `batch` at `step`'s learning rate; returns (loss, tokens trained on)."""
    import torch

    ids, weights, positions = (
        torch.from_numpy(a).to(device) for a in (batch.ids, batch.weights, batch.positions)
    )
    for group in run.optimizer.param_groups:
        group["lr"] = cfg.learning_rate(step)
    loss, _ = weighted_loss(run.model, ids, weights, positions if cfg.document_mask else None)
    run.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(run.model.parameters(), cfg.grad_clip)
    run.optimizer.step()
    tokens = int(
        (ids[:, 1:] != run.batches.pad_id).sum()
    )  # one sync per step: cheap next to the step
    return float(loss.detach()), tokens


@dataclass
class Prober:
    """The reading probe, the judgment (P(True) AUROC on held-out confidence questions) and
    the neighbour probe, measured on the try's model and appended to `progress.probes`."""

    probe: ReadingProbe | None
    neighbours: NeighbourProbe | None
    judged: Sequence[Mapping[str, Any]]
    tokenizer: Any

    def due(self, step: int, cfg: PretrainConfig) -> bool:
        """Whether to probe after `step` steps: every `cfg.probe.every` and at restart checks."""
        every = cfg.probe.every
        periodic = bool(every) and step % every == 0
        return self.probe is not None and (periodic or cfg.restart.check_at(step) is not None)

    def measure(self, run: Try, progress: Progress) -> dict[str, float]:
        assert self.probe is not None
        accuracy = self.probe.accuracy(run.model)
        if self.judged:
            accuracy["judgment"] = judgment_auroc(run.model, self.tokenizer, self.judged)
        if self.neighbours is not None:
            pad = self.tokenizer.pad_token_id
            per_block = self.neighbours.accuracy(run.model, pad).mean(axis=1)
            accuracy["neighbours"] = float(per_block.max())
        row = {"try": progress.tries, "seed": run.seed, "step": progress.step}
        progress.probes.append({**row, "elapsed_s": progress.elapsed(), **accuracy})
        log.info("reading probe at step %d (try %d): %s", progress.step, progress.tries, accuracy)
        return accuracy


def _log_restart(
    failed: Sequence[str],
    accuracy: Mapping[str, float],
    rule: RestartRule,
    step: int,
    tries: int,
) -> None:
    check = rule.check_at(step)
    assert check is not None
    log.warning(
        "restart rule: %s below %s at step %d of try %d; starting try %d",
        ", ".join(f"{q}={accuracy[q]:.2f}" for q in failed),
        check.min_accuracy,
        step,
        tries,
        tries + 1,
    )


def _save_organism(
    out: Path,
    run: Try,
    tokenizer: Any,
    cfg: PretrainConfig,
    progress: Progress,
    n_params: int,
) -> None:
    """The model (safetensors), its tokenizer and the organism marker, atomically."""
    with atomic_path(out) as tmp:
        run.model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        marker = {
            "pretrain": dict(cfg.section),
            "steps": progress.step,
            "tokens": progress.tokens,
            "n_parameters": n_params,
            "tries": progress.tries,
            "seed": run.seed,
        }
        write_json(Path(tmp) / ORGANISM_MARKER, marker)


def param_groups(model: Any, weight_decay: float) -> list[dict[str, Any]]:
    """AdamW groups: decay matrices only. RMSNorm gains (including Qwen3's q/k norms, which set
    how sharp attention can get) and the (tied) embedding are not pulled towards zero."""
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        is_matrix = param.ndim >= 2 and "embed_tokens" not in name
        (decay if is_matrix else no_decay).append(param)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


def weighted_loss(
    model: Any, ids: Any, weights: Any, positions: Any | None = None
) -> tuple[Any, Any]:
    """Mean next-token cross-entropy over targets with weight > 0; returns (loss, n targets).

    Only those targets go through the output head: with the loss on assistant turns that is
    ~10% of the tokens, and the head (vocabulary × hidden) is half of a small organism's work.
    With `positions` (restarting at 0 per packed document), each document attends only to
    itself (see `welfare.model.data.Blocks`)."""
    import torch.nn.functional as F

    extra = {} if positions is None else {"position_ids": positions[:, :-1]}
    hidden = model.get_decoder()(input_ids=ids[:, :-1], use_cache=False, **extra)
    targets, w = ids[:, 1:], weights[:, 1:]
    keep = w > 0
    logits = head_logits(model, hidden.last_hidden_state[keep], None)
    ce = F.cross_entropy(logits, targets[keep], reduction="none")
    n = w.sum()
    return (ce * w[keep]).sum() / n.clamp(min=1), n


def heldout_losses(
    model: Any, tokenizer: Any, rows: Sequence[Mapping[str, Any]], cfg: PretrainConfig
) -> dict[str, float]:
    """Mean token loss per genre on (up to `eval_rows_per_genre`) held-out rows."""
    import torch

    by_genre: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        by_genre.setdefault(row["genre"], []).append(row)
    pad = tokenizer.pad_token_id
    losses: dict[str, float] = {}
    model.eval()
    with torch.no_grad():
        for genre, items in sorted(by_genre.items()):
            docs = encode_rows(tokenizer, items[: cfg.eval_rows_per_genre], cfg.loss_on)
            total, count = 0.0, 0.0
            for i in range(0, len(docs), 16):
                chunk = docs[i : i + 16]
                width = min(max(len(d[0]) for d in chunk), cfg.seq_len + 1)
                ids = np.full((len(chunk), width), pad, dtype=np.int64)
                w = np.zeros((len(chunk), width), dtype=np.float32)
                for j, (d_ids, d_w) in enumerate(chunk):
                    ids[j, : min(len(d_ids), width)] = d_ids[:width]
                    w[j, : min(len(d_ids), width)] = d_w[:width]
                loss, n = weighted_loss(
                    model,
                    torch.from_numpy(ids).to(model.device),
                    torch.from_numpy(w).to(model.device),
                )
                total += float(loss) * float(n)
                count += float(n)
            losses[genre] = total / max(count, 1.0)
    model.train()
    return losses


def resume_dir(out: Path) -> Path:
    return out.with_name(out.name + ".resume")


def resume_fingerprint(
    section: Mapping[str, Any], tokenizer: Any, train_rows: Sequence[Mapping[str, Any]]
) -> str:
    """What a resume state's trajectory depends on: the pretrain params less `steps` (a run may
    be extended, as bench/artifacts/reading-organism was) and cadences, the vocabulary, and the
    corpus's rows (count and first and last row)."""
    skip = ("steps", "checkpoint_every", "eval_rows_per_genre", "acceptance")
    rows = [len(train_rows), train_rows[0] if train_rows else None, train_rows[-1:]]
    kept = {k: v for k, v in section.items() if k not in skip}
    return params_hash({"cfg": kept, "vocab": len(tokenizer), "rows": rows})


def discard_resume(out: str | Path) -> None:
    """Remove the resume state of `out` (the run and whatever follows it are complete)."""
    shutil.rmtree(resume_dir(Path(out)), ignore_errors=True)


def _save_resume(out: Path, run: Try, progress: Progress, elapsed: float, fingerprint: str) -> None:
    import torch

    with atomic_path(resume_dir(out)) as tmp:
        tmp.mkdir()
        torch.save(
            {
                "model": run.model.state_dict(),
                "optimizer": run.optimizer.state_dict(),
                "step": progress.step,
                "elapsed": elapsed,
                "curve": progress.curve,
                "fingerprint": fingerprint,
                "tries": progress.tries,
                "probes": progress.probes,
            },
            tmp / "state.pt",
        )


def _load_resume(out: Path, fingerprint: str, device: str) -> dict[str, Any] | None:
    """The resume state of `out`, if it is of these params, corpus and tokenizer; one of others
    is moved aside."""
    import torch

    state_file = resume_dir(out) / "state.pt"
    if not state_file.exists():
        return None
    state = torch.load(state_file, weights_only=True, map_location=device)
    if state.get("fingerprint") != fingerprint:
        stale = resume_dir(out).with_name(f"{resume_dir(out).name}.stale-{int(time.time())}")
        resume_dir(out).rename(stale)
        log.warning("resume state of other params, corpus or tokenizer moved to %s", stale)
        return None
    return state


def write_curve(
    rows: Sequence[Mapping[str, Any]], path: str | Path, columns: Sequence[str] = CURVE_COLUMNS
) -> None:
    """A TSV of `rows` (the loss curve, or the reading probes with `PROBE_COLUMNS`)."""
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(columns), delimiter="\t", restval="")
        writer.writeheader()
        for row in rows:
            writer.writerow(
                {k: (f"{v:.6g}" if isinstance(v := row.get(k, ""), float) else v) for k in columns}
            )
