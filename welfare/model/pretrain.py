"""Pretrain the maze-naive organism on the corpus: AdamW, warmup + cosine, packed blocks.

Resumable (only under the same params, corpus and tokenizer: a resume state of others is
moved to `<out>.resume.stale-T`): every `checkpoint_every` steps the model, optimizer, step and
elapsed time go to `<out>.resume/state.pt` (atomically); a restarted run continues from there
with the same data order (blocks are a pure function of (seed, epoch)). At the end the model is
saved with `save_pretrained` (safetensors) together with its tokenizer, and the resume state is
removed, unless `keep_resume` (the CLI, while acceptance runs): then it is saved at the final step
and `discard_resume` removes it once acceptance is written, so a kill during acceptance reruns
acceptance only, not pretraining.

The restart rule (`restart`): whether the reading circuit binds is close to a coin flip per seed
at organism size (bench/organism.md), and it shows early. So at `restart.at_step` the reading
probe is read and, if a named accuracy is below `min_accuracy`, training starts over as
`seed + 1000` would (initialisation and data), up to `max_tries` tries in all; `early` and
`late` add checks before and after it. Every probe of every try is kept in the metrics, and
the wall time counts them all.
"""

from __future__ import annotations

import csv
import logging
import math
import shutil
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from welfare.config import params_hash
from welfare.io import atomic_path, write_json
from welfare.model.acceptance import NeighbourProbe, judgment_auroc, judgment_rows
from welfare.model.data import Blocks, BlockSchedule, FreshBlocks, encode_rows
from welfare.model.organism import ORGANISM_MARKER
from welfare.model.reading_probe import PROBE_SERIES, ReadingProbe

log = logging.getLogger(__name__)

CURVE_COLUMNS = ("step", "tokens", "lr", "train_loss", "elapsed_s")
PROBE_COLUMNS = ("try", "seed", "step", "elapsed_s", *PROBE_SERIES)
# A restarted try runs as `pretrain.seed + RESTART_SEED_STRIDE · try` would.
RESTART_SEED_STRIDE = 1000


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


def learning_rate(step: int, cfg: Mapping[str, Any]) -> float:
    """Linear warmup, then cosine from `lr` down to `lr · min_lr_ratio`."""
    from welfare.rl.losses import cosine_multiplier

    lr, warmup, total = float(cfg["lr"]), int(cfg["warmup_steps"]), int(cfg["steps"])
    if step < warmup:
        return lr * (step + 1) / warmup
    floor = float(cfg["min_lr_ratio"])
    return lr * (floor + (1 - floor) * cosine_multiplier(step - warmup, total - warmup))


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


def resume_dir(out: Path) -> Path:
    return out.with_name(out.name + ".resume")


def weighted_loss(
    model: Any, ids: Any, weights: Any, positions: Any | None = None
) -> tuple[Any, Any]:
    """Mean next-token cross-entropy over targets with weight > 0; returns (loss, n targets).

    Only those targets go through the output head: with the loss on assistant turns that is
    ~10% of the tokens, and the head (vocabulary × hidden) is half of a small organism's work.
    With `positions` (restarting at 0 per packed document), each document attends only to
    itself (see `welfare.model.data.Blocks`)."""
    import torch.nn.functional as F

    from welfare.rl.policy import head_logits

    extra = {} if positions is None else {"position_ids": positions[:, :-1]}
    hidden = model.get_decoder()(input_ids=ids[:, :-1], use_cache=False, **extra)
    targets, w = ids[:, 1:], weights[:, 1:]
    keep = w > 0
    logits = head_logits(model, hidden.last_hidden_state[keep], None)
    ce = F.cross_entropy(logits, targets[keep], reduction="none")
    n = w.sum()
    return (ce * w[keep]).sum() / n.clamp(min=1), n


def heldout_losses(
    model: Any, tokenizer: Any, rows: Sequence[Mapping[str, Any]], cfg: Mapping[str, Any]
) -> dict[str, float]:
    """Mean token loss per genre on (up to `eval_rows_per_genre`) held-out rows."""
    import torch

    by_genre: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        by_genre.setdefault(row["genre"], []).append(row)
    pad = tokenizer.pad_token_id
    seq_len = int(cfg["seq_len"])
    losses: dict[str, float] = {}
    model.eval()
    with torch.no_grad():
        for genre, items in sorted(by_genre.items()):
            docs = encode_rows(tokenizer, items[: int(cfg["eval_rows_per_genre"])], cfg["loss_on"])
            total, count = 0.0, 0.0
            for i in range(0, len(docs), 16):
                chunk = docs[i : i + 16]
                width = min(max(len(d[0]) for d in chunk), seq_len + 1)
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


def resume_fingerprint(
    cfg: Mapping[str, Any], tokenizer: Any, train_rows: Sequence[Mapping[str, Any]]
) -> str:
    """What a resume state's trajectory depends on: the pretrain params less `steps` (a run may
    be extended, as bench/artifacts/reading-organism was) and cadences, the vocabulary, and the
    corpus's rows (count and first and last row)."""
    skip = ("steps", "checkpoint_every", "eval_rows_per_genre", "acceptance")
    rows = [len(train_rows), train_rows[0] if train_rows else None, train_rows[-1:]]
    kept = {k: v for k, v in cfg.items() if k not in skip}
    return params_hash({"cfg": kept, "vocab": len(tokenizer), "rows": rows})


def discard_resume(out: str | Path) -> None:
    """Remove the resume state of `out` (the run and whatever follows it are complete)."""
    shutil.rmtree(resume_dir(Path(out)), ignore_errors=True)


def _save_resume(
    path: Path,
    model: Any,
    optimizer: Any,
    step: int,
    elapsed: float,
    curve: list[dict[str, float]],
    fingerprint: str,
    tries: int,
    probes: list[dict[str, float]],
) -> None:
    import torch

    with atomic_path(path) as tmp:
        tmp.mkdir()
        torch.save(
            {
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "step": step,
                "elapsed": elapsed,
                "curve": curve,
                "fingerprint": fingerprint,
                "tries": tries,
                "probes": probes,
            },
            tmp / "state.pt",
        )


def _load_resume(path: Path, device: str) -> dict[str, Any] | None:
    import torch

    state_file = path / "state.pt"
    if not state_file.exists():
        return None
    return torch.load(state_file, weights_only=True, map_location=device)


@dataclass
class _Try:
    """One try's model, optimizer and data streams, all drawn from `seed`."""

    seed: int
    model: Any
    optimizer: Any
    main: BlockSchedule
    warm: BlockSchedule | None
    fresh: FreshBlocks | None


def _start_try(
    seed: int,
    cfg: Mapping[str, Any],
    tokenizer: Any,
    docs: Sequence[tuple[list[int], np.ndarray]],
    warm_docs: Sequence[tuple[list[int], np.ndarray]],
    fresh: FreshBlocks | None,
    device: str,
) -> _Try:
    import torch

    from welfare.model.organism import build_organism

    model = build_organism(cfg["model"], tokenizer, seed).to(device)
    model.train()
    optimizer = torch.optim.AdamW(
        param_groups(model, float(cfg["weight_decay"])), lr=float(cfg["lr"]), betas=(0.9, 0.95)
    )
    seq_len, batch_size, pad = int(cfg["seq_len"]), int(cfg["batch_size"]), tokenizer.pad_token_id
    n_fresh = fresh.n_blocks if fresh is not None else 0
    main = BlockSchedule(docs, seq_len, max(batch_size - n_fresh, 1), pad, seed)
    warm = BlockSchedule(warm_docs, seq_len, batch_size, pad, seed + 1) if warm_docs else None
    # The fresh rows' seed keeps its offset from the run's (pretrain.seed + 2, data.fresh_blocks).
    fresh = fresh.reseeded(fresh.seed + seed - int(cfg["seed"])) if fresh is not None else None
    return _Try(seed, model, optimizer, main, warm, fresh)


@dataclass(frozen=True)
class RestartCheck:
    """At this step of a try, each of `questions` must reach `min_accuracy` on the probe."""

    questions: tuple[str, ...]
    min_accuracy: float


def restart_checks(rule: Mapping[str, Any]) -> dict[int, RestartCheck]:
    """Step → what the restart rule checks there: `at_step`; `early.at_step` (an earlier,
    cheaper check: "what" binds before "where"); `late.at_step` (a later one: four-clause
    "where" can fail to consolidate after the curriculum bound). The extra checks take the
    rule's bar unless they name their own. `at_step` 0 turns the rule off, extra checks
    included; an extra check's `at_step` 0 turns only it off."""
    if not int(rule["at_step"]):
        return {}
    bar = float(rule["min_accuracy"])
    checks = {int(rule["at_step"]): RestartCheck(tuple(rule["questions"]), bar)}
    for name in ("early", "late"):
        extra = rule.get(name) or {}
        if int(extra.get("at_step", 0)):
            own = extra.get("min_accuracy")
            checks[int(extra["at_step"])] = RestartCheck(
                tuple(extra["questions"]), bar if own is None else float(own)
            )
    return checks


def _restart_due(
    accuracy: Mapping[str, float], check: RestartCheck, max_tries: int, tries: int
) -> list[str]:
    """The probes below the check's bar, when another try is still allowed."""
    if tries >= max_tries:
        return []
    return [q for q in check.questions if accuracy[q] < check.min_accuracy]


def pretrain(
    train_rows: Sequence[Mapping[str, Any]],
    heldout_rows: Sequence[Mapping[str, Any]],
    tokenizer: Any,
    cfg: Mapping[str, Any],
    out: str | Path,
    curve_path: str | Path | None = None,
    fresh: FreshBlocks | None = None,
    device: str = "cpu",
    probe: ReadingProbe | None = None,
    neighbours: NeighbourProbe | None = None,
    keep_resume: bool = False,
) -> tuple[Any, PretrainResult]:
    """Train a fresh organism (or resume one) and save it to `out`; return (model, result).

    With `fresh`, `fresh.n_blocks` blocks of every batch are rows generated on the fly and the
    rest come from the corpus. With `probe`, reading is measured every `reading_probe.every`
    steps and at the end (and the judgment, P(True) AUROC on `reading_probe.n` held-out
    confidence questions; with `neighbours`, the neighbour probe), and the restart rule
    (`restart.at_step` > 0) can start over."""
    import torch

    out = Path(out)
    rule = cfg["restart"]
    checks = restart_checks(rule)
    probe_every = int(cfg["reading_probe"]["every"])
    if checks and probe is None:
        raise ValueError("pretrain.restart needs the reading probe (pretrain.reading_probe.n > 0)")
    fingerprint = resume_fingerprint(cfg, tokenizer, train_rows)
    state = _load_resume(resume_dir(out), device)
    if state is not None and state.get("fingerprint") != fingerprint:
        stale = resume_dir(out).with_name(f"{resume_dir(out).name}.stale-{int(time.time())}")
        resume_dir(out).rename(stale)
        log.warning("resume state of other params, corpus or tokenizer moved to %s", stale)
        state = None

    docs = encode_rows(tokenizer, train_rows, cfg["loss_on"])
    batch_size, total = int(cfg["batch_size"]), int(cfg["steps"])
    pad = tokenizer.pad_token_id
    if fresh is not None and not fresh.n_blocks:
        fresh = None
    n_fresh = fresh.n_blocks if fresh is not None else 0
    document_mask = bool(cfg["document_mask"])
    # Reading curriculum: the first `curriculum.steps` steps draw only from its genres.
    warm_steps = int(cfg["curriculum"]["steps"])
    warm_genres = set(cfg["curriculum"]["genres"])
    warm_docs = []
    if warm_steps:
        rows = zip(docs, train_rows, strict=True)
        warm_docs = [d for d, row in rows if row["genre"] in warm_genres]
        if not warm_docs:
            raise ValueError(f"pretrain.curriculum.genres {sorted(warm_genres)}: no such rows")

    step, elapsed, curve, tries, probes = 0, 0.0, [], 1, []
    if state is not None:
        step, elapsed, curve = int(state["step"]), float(state["elapsed"]), list(state["curve"])
        tries, probes = int(state.get("tries", 1)), list(state.get("probes", []))

    def start(tries: int) -> _Try:
        seed = int(cfg["seed"]) + RESTART_SEED_STRIDE * (tries - 1)
        return _start_try(seed, cfg, tokenizer, docs, warm_docs, fresh, device)

    run = start(tries)
    if state is not None:
        run.model.load_state_dict(state["model"])
        run.optimizer.load_state_dict(state["optimizer"])
        log.info("resuming pretraining from step %d (try %d)", step, tries)
    n_params = sum(p.numel() for p in run.model.parameters())
    log.info(
        "organism: %d parameters, %d documents, %d blocks per epoch",
        n_params,
        len(docs),
        len(run.main.blocks),
    )
    started = time.perf_counter() - elapsed
    tokens = int(curve[-1]["tokens"]) if curve else 0
    bar = tqdm(total=total, initial=step, desc="pretrain", mininterval=5)
    loss_value = float(curve[-1]["train_loss"]) if curve else math.nan

    judged = judgment_rows(heldout_rows, int(cfg["reading_probe"]["n"]))

    def measure() -> dict[str, float]:
        assert probe is not None
        accuracy = probe.accuracy(run.model)
        if judged:
            accuracy["judgment"] = judgment_auroc(run.model, tokenizer, judged)
        if neighbours is not None:
            per_block = neighbours.accuracy(run.model, tokenizer.pad_token_id).mean(axis=1)
            accuracy["neighbours"] = float(per_block.max())
        row = {"try": tries, "seed": run.seed, "step": step}
        probes.append({**row, "elapsed_s": time.perf_counter() - started, **accuracy})
        log.info("reading probe at step %d (try %d): %s", step, tries, accuracy)
        return accuracy

    # Fresh rows are made by Python code that holds the GIL while the model's kernels release
    # it: one thread makes the next step's rows while this step trains.
    prefetch = ThreadPoolExecutor(max_workers=1)

    def prefetch_rows(index: int) -> Any:
        return prefetch.submit(run.fresh.batch_blocks, index) if run.fresh is not None else None

    upcoming = prefetch_rows(step)
    while step < total:
        if run.warm is not None and step < warm_steps:
            batch = run.warm.batch_blocks(step)
        else:
            batch = run.main.batch_blocks(step - warm_steps)
        if upcoming is not None:
            new_rows = upcoming.result()
            upcoming = prefetch_rows(step + 1) if step + 1 < total else None
            batch = Blocks.concatenate([batch[: batch_size - n_fresh], new_rows])
        ids, weights, positions = (
            torch.from_numpy(a).to(device) for a in (batch.ids, batch.weights, batch.positions)
        )
        for group in run.optimizer.param_groups:
            group["lr"] = learning_rate(step, cfg)
        loss, _ = weighted_loss(run.model, ids, weights, positions if document_mask else None)
        run.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(run.model.parameters(), float(cfg["grad_clip"]))
        run.optimizer.step()
        step += 1
        tokens += int((ids[:, 1:] != pad).sum())  # one sync per step: cheap next to the step
        loss_value = float(loss.detach())
        curve.append(
            {
                "step": step,
                "tokens": tokens,
                "lr": learning_rate(step - 1, cfg),
                "train_loss": loss_value,
                "elapsed_s": time.perf_counter() - started,
            }
        )
        bar.update(1)
        bar.set_postfix(loss=f"{loss_value:.3f}", refresh=False)
        accuracy = None
        if probe is not None and ((probe_every and step % probe_every == 0) or step in checks):
            accuracy = measure()
        below = []
        if step in checks:
            below = _restart_due(accuracy, checks[step], int(rule["max_tries"]), tries)
        if below:
            log.warning(
                "restart rule: %s below %s at step %d of try %d; starting try %d",
                ", ".join(f"{q}={accuracy[q]:.2f}" for q in below),
                checks[step].min_accuracy,
                step,
                tries,
                tries + 1,
            )
            if upcoming is not None:
                upcoming.result()  # the prefetch thread must not use the old try's rows
            tries += 1
            run = start(tries)
            step, tokens, curve = 0, 0, []
            bar.reset(total=total)
            upcoming = prefetch_rows(step)
        if below or (step % int(cfg["checkpoint_every"]) == 0 and step < total):
            elapsed_now = time.perf_counter() - started
            resume = (run.model, run.optimizer, step, elapsed_now, curve, fingerprint)
            _save_resume(resume_dir(out), *resume, tries, probes)
    bar.close()
    prefetch.shutdown(cancel_futures=True)
    if probe is not None and (not probes or probes[-1]["step"] != step):
        measure()
    wall = time.perf_counter() - started
    if keep_resume:
        _save_resume(
            resume_dir(out), run.model, run.optimizer, step, wall, curve, fingerprint, tries, probes
        )
    run.model.eval()
    heldout = heldout_losses(run.model, tokenizer, heldout_rows, cfg)
    with atomic_path(out) as tmp:
        run.model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        marker = {
            "pretrain": dict(cfg),
            "steps": step,
            "tokens": tokens,
            "n_parameters": n_params,
            "tries": tries,
            "seed": run.seed,
        }
        write_json(Path(tmp) / ORGANISM_MARKER, marker)
    if curve_path is not None:
        write_curve(curve, curve_path)
    if not keep_resume:
        discard_resume(out)
    result = PretrainResult(
        step, tokens, wall, loss_value, heldout, curve, n_params, probes, tries, run.seed
    )
    return run.model, result


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
