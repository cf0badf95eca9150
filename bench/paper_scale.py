"""Paper scale on one GPU: the primary run's RL step, recording and steering, timed with our code.

    bash bench/gpu_paper_scale.sh                      # the device run ($OUT; gpu_paper_scale.md)
    python bench/paper_scale.py --shape small          # the same sections at a CPU size (CI)

A Qwen3-4B-Instruct-2507-shaped model with random bf16 weights and a ChatML tokenizer with
Qwen's turn lengths (`welfare.model.paper_shape`): every action is one masked letter, so the
workload does not depend on the weights. The sections call the pipeline's own code:

1. `rl_step`: steps of `params/paper.yaml`'s primary organism (8 mazes × 64 episodes,
   15 turns, LoRA 32/64 all-linear, Dr. GRPO) through the trainer's step function
   (`welfare.rl.trainer._rl_stepper`), rollout and update timed apart, peak GPU memory of each
   (a warm-up step, then two measured ones when the budget allows);
2. `recording`: the first N of the paper's 15,000 extraction trajectories (every class and
   length in proportion) rendered and recorded (all 36 blocks at `activations.positions`: the
   final letter and the decision token, one forward pass) through
   `capture_to_store` (or `record_chats` without zarr), extrapolated to 15,000 by tokens;
3. `steering`: `generate_responses` at batch 64 with the steering hook on and off;
4. `rl_step_plain`: section 1 with the decision-only last layer off (rollout and update), one
   measured step.
5. `profile`: `torch.profiler` over one step of one rollout group: where the device time goes.

Each section runs under a time guard (skipped when the budget left cannot hold it) and an
error guard (a failing section is recorded and the next one runs; an out-of-memory RL step is
retried once with half the batch of the phase that failed). Results are rewritten to
`--out/paper_scale.json` after every section; the table is printed at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import gc
import json
import logging
import os
import platform
import statistics
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import replace
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np
import torch

import welfare.rl.trainer as trainer_module
import welfare.rl.update as update_module
from welfare.activations.capture import ActivationSettings, store_order
from welfare.activations.record import record_chats
from welfare.activations.render import render_chat
from welfare.config import fill_defaults, load_params, merge_params
from welfare.env import render_trajectory_messages
from welfare.env.extraction import ExtractionSpec, iter_trajectories
from welfare.env.tables import extraction_columns
from welfare.maze import MazeConfig, TileMapping
from welfare.model.load import wrap_lora
from welfare.model.paper_shape import chatml_tokenizer, paper_shape_config, random_model
from welfare.rl.config import TrainConfig
from welfare.rl.policy import direction_ids
from welfare.steering.generate import GenerationSettings, generate_responses

log = logging.getLogger("paper_scale")
REPO = Path(__file__).resolve().parents[1]
ORGANISM = "qwen4b-instruct-grpo"  # params/paper.yaml, Table 1 row 1
PAPER_TRAJECTORIES = 15_000  # 3 classes × 5,000 (docs/protocol.md §3.1)

# Per shape: what the sections run. `paper` is the paper's workload; `small` the CI's.
SHAPES: dict[str, dict[str, Any]] = {
    "paper": {
        "train": {},  # params/paper.yaml as it is
        "maze": {},
        "warmup_episodes": 8,
        "rl_steps": 2,  # the first full-size step also pays for new kernel shapes
        "record_n": 1_530,  # 34 × 45: every (class, length) pair 34 times
        "steer_batch": 64,
        "steer_tokens": 64,
        "steer_repeats": 2,
    },
    "small": {
        "train": {"mazes_per_step": 2, "group_size": 4, "rollout_batch": 6, "micro_batch": 4},
        "maze": {"turns": 4},
        "warmup_episodes": 2,
        "rl_steps": 2,
        "record_n": 15,  # lengths 1 to 5 of every class
        "steer_batch": 4,
        "steer_tokens": 4,
        "steer_repeats": 1,
    },
}


# --- device helpers ------------------------------------------------------------------------
def sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def reset_peak() -> None:
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()


def peak_gib() -> float | None:
    return torch.cuda.max_memory_allocated() / 2**30 if torch.cuda.is_available() else None


def free_memory() -> None:
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def is_oom(exc: BaseException) -> bool:
    return isinstance(exc, torch.OutOfMemoryError) or "out of memory" in str(exc).lower()


# --- results, budget and guards ----------------------------------------------------------------
class Run:
    """The results file and the time budget shared by the sections."""

    def __init__(self, out: Path, budget_s: float) -> None:
        self.out, self.budget_s, self.started = out, budget_s, time.perf_counter()
        self.results: dict[str, Any] = {"meta": {}, "sections": {}}
        out.mkdir(parents=True, exist_ok=True)

    def left(self) -> float:
        return self.budget_s - (time.perf_counter() - self.started)

    def save(self) -> None:
        path = self.out / "paper_scale.json"
        path.write_text(json.dumps(self.results, indent=1, default=_plain) + "\n")

    def section(self, name: str, fn: Callable[[], dict[str, Any]], need_s: float) -> None:
        """Run `fn` unless the budget left is under `need_s`; record its result or its error."""
        entry: dict[str, Any] = {}
        self.results["sections"][name] = entry
        if self.left() < need_s:
            entry.update(status="skipped", reason=f"{self.left():.0f} s left < {need_s:.0f} s")
            log.warning("%s: skipped (%s)", name, entry["reason"])
            self.save()
            return
        log.info("%s: start (%.0f s of budget left)", name, self.left())
        started = time.perf_counter()
        try:
            entry.update(fn())
            entry["status"] = entry.get("status", "ok")
        except Exception as exc:  # a failing section must not lose the others
            entry.update(status="failed", error=f"{type(exc).__name__}: {exc}"[:500])
            log.error("%s failed:\n%s", name, traceback.format_exc())
        finally:
            entry["seconds"] = time.perf_counter() - started
            free_memory()
            self.save()
        log.info("%s: %s in %.1f s", name, entry["status"], entry["seconds"])


def _plain(value: Any) -> Any:
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    return str(value)


# --- setup ---------------------------------------------------------------------------------
def paper_params(shape: str) -> tuple[dict[str, Any], TrainConfig]:
    """params.yaml + params/paper.yaml, validated (the schema's defaults), and the primary
    organism's training config with the shape's overrides."""
    files = [REPO / "params.yaml", REPO / "params" / "paper.yaml"]
    try:
        params = load_params(files)
    except ImportError as exc:  # no jsonschema: the schema's defaults, without validation
        log.warning("params not validated (%s): defaults filled in only", exc)
        params = fill_defaults(merge_params(files))
    params["train"].update(SHAPES[shape]["train"])
    params["maze"].update(SHAPES[shape]["maze"])
    return params, TrainConfig.for_organism(params, ORGANISM)


def build(shape: str, device: str, dtype: torch.dtype) -> tuple[Any, Any, dict[str, Any]]:
    started = time.perf_counter()
    tokenizer = chatml_tokenizer()
    tokenizer_s = time.perf_counter() - started
    model = random_model(paper_shape_config(shape), dtype, device)
    sync()
    info = {
        "tokenizer_s": tokenizer_s,
        "model_s": time.perf_counter() - started - tokenizer_s,
        "parameters": sum(p.numel() for p in model.parameters()),
        "layers": model.config.num_hidden_layers,
        "dtype": str(dtype).removeprefix("torch."),
    }
    return model, tokenizer, info


def versions(device: str) -> dict[str, Any]:
    import peft
    import transformers

    info = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "transformers": transformers.__version__,
        "peft": peft.__version__,
        "device": device,
        "gpu": torch.cuda.get_device_name(0) if device == "cuda" else None,
        "gpu_memory_gib": (
            torch.cuda.get_device_properties(0).total_memory / 2**30 if device == "cuda" else None
        ),
        "packages": {name: _version(name) for name in ("jsonschema", "zarr", "dask", "xarray")},
        "sdpa_backends": {
            "flash": torch.backends.cuda.flash_sdp_enabled(),
            "mem_efficient": torch.backends.cuda.mem_efficient_sdp_enabled(),
        },
    }
    return info


def _version(name: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None


# --- RL step ---------------------------------------------------------------------------------
@contextlib.contextmanager
def instrumented(records: dict[str, Any], plain_last_layer: bool) -> Iterator[None]:
    """Time the trainer's rollout and update calls (device-synchronised, peak memory of each);
    with `plain_last_layer` both run the whole last layer instead of the decisions only."""
    real = (trainer_module.rollout, trainer_module.policy_update, update_module.decision_logits)

    def timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            sync()
            reset_peak()
            started = time.perf_counter()
            out = fn(*args, **kwargs)
            sync()
            records[name] = {"s": time.perf_counter() - started, "peak_gib": peak_gib()}
            if name == "rollout":
                lengths = [len(t) for t in out.tokens]
                records["tokens"] = sum(lengths)
                records["tokens_per_episode"] = float(np.mean(lengths))
                records["tokens_per_episode_max"] = max(lengths)
                records["episodes"] = len(lengths)
            return out

        return call

    rollout_fn = real[0]
    if plain_last_layer:
        rollout_fn = functools.partial(real[0], decisions_only=False)
        update_module.decision_logits = functools.partial(real[2], decisions_only=False)
    trainer_module.rollout = timed("rollout", rollout_fn)
    trainer_module.policy_update = timed("update", real[1])
    try:
        yield
    finally:
        trainer_module.rollout, trainer_module.policy_update = real[0], real[1]
        update_module.decision_logits = real[2]


def rl_step(
    model: Any,
    tokenizer: Any,
    params: dict[str, Any],
    cfg: TrainConfig,
    plain: bool,
    warmup: int,
    steps: int = 1,
    another: Callable[[float], bool] = lambda _seconds: True,
) -> dict[str, Any]:
    """Up to `steps` measured training steps of `cfg` after an untimed warm-up step on `warmup`
    episodes (a further step only while `another(last step's seconds)`); the last one's
    numbers at the top, every one's under "steps". A step that runs out of memory is run again
    with half the rollout groups or micro-batch (whichever phase failed), once."""
    maze = MazeConfig.from_params(params["maze"])
    mapping = TileMapping.from_params(params, cfg.mapping)
    trainable = [p for p in model.parameters() if p.requires_grad]
    opt = cfg.optimizer
    optimizer = torch.optim.AdamW(
        trainable, lr=opt.lr, betas=(opt.beta1, opt.beta2), weight_decay=opt.weight_decay
    )
    ids, pad = direction_ids(tokenizer), tokenizer.pad_token_id
    # Matrix-product FLOPs per token of the blocks (2 per weight forward, 4 for the update's
    # forward and input-gradient backward; attention and LoRA's own products left out).
    block_weights = sum(p.numel() for p in model.get_decoder().layers.parameters())

    def step(config: TrainConfig, records: dict[str, Any], index: int) -> dict[str, Any]:
        stepper = trainer_module._rl_stepper(
            config, maze, mapping, model, tokenizer, optimizer, None, ids, pad
        )
        with instrumented(records, plain):
            return stepper(index)

    step(replace(cfg, mazes_per_step=1, group_size=warmup, rollout_batch=0), {}, 0)  # not timed
    result: dict[str, Any] = {"retries": [], "steps": []}
    config = cfg
    for index in range(1, 2 * steps + 1):  # at most one retry per step
        records: dict[str, Any] = {}
        try:
            row = step(config, records, index)
        except Exception as exc:
            if not is_oom(exc) or len(result["retries"]) >= steps:
                raise
            phase = "update" if "rollout" in records else "rollout"
            config = _halved(config, phase)
            result["retries"].append(f"{type(exc).__name__} in the {phase}: half its batch")
            free_memory()
            continue
        records |= {
            "rollout_batch": config.rollout_batch or config.mazes_per_step * config.group_size,
            "micro_batch": config.micro_batch,
            "step_s": records["rollout"]["s"] + records["update"]["s"],
            "decisions_per_s": row["rollout_decisions_per_s"],
            "update_tokens_per_s": row["update_tokens_per_s"],
            "return_mean": row["return_mean"],
            "rollout_tflops": 2
            * block_weights
            * records["tokens"]
            / records["rollout"]["s"]
            / 1e12,
            "update_tflops": 4 * block_weights * records["tokens"] / records["update"]["s"] / 1e12,
        }
        result["steps"].append(records)
        if len(result["steps"]) == steps or not another(records["step_s"]):
            break
    return result | result["steps"][-1]


def _halved(cfg: TrainConfig, phase: str) -> TrainConfig:
    episodes = cfg.mazes_per_step * cfg.group_size
    if phase == "rollout":
        return replace(cfg, rollout_batch=max(1, (cfg.rollout_batch or episodes) // 2))
    return replace(cfg, micro_batch=max(1, cfg.micro_batch // 2))


# --- recording -------------------------------------------------------------------------------
def recording(model: Any, tokenizer: Any, params: dict[str, Any], n: int) -> dict[str, Any]:
    """The first `n` extraction trajectories, rendered, store-ordered and recorded; the time
    extrapolated to the paper's 15,000 by tokens (the first 45·k trajectories hold every
    (class, length) pair k times, as the whole set does)."""
    started = time.perf_counter()
    spec = ExtractionSpec.from_params(params["env"])
    maze = MazeConfig.from_params(params["maze"])
    trajectories = list(islice(iter_trajectories(spec, maze), n))
    columns = extraction_columns(trajectories, ["train"] * len(trajectories))
    rows = [
        dict(zip(columns, values, strict=True)) for values in zip(*columns.values(), strict=True)
    ]
    chats = [render_chat(tokenizer, render_trajectory_messages(r, params, "office")) for r in rows]
    order = store_order(["train"] * len(chats), [c.n_tokens for c in chats])
    chats = [chats[i] for i in order]
    prepare_s = time.perf_counter() - started
    settings = ActivationSettings.from_params(params["activations"])
    tokens = sum(c.n_tokens for c in chats)
    sync()
    reset_peak()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        how = _record(model, chats, settings, tokenizer.pad_token_id, Path(tmp) / "final.zarr")
    sync()
    seconds = time.perf_counter() - started
    scale = PAPER_TRAJECTORIES / len(chats)
    return {
        "trajectories": len(chats),
        "tokens": tokens,
        "tokens_per_trajectory": tokens / len(chats),
        "prepare_s": prepare_s,
        "record_s": seconds,
        "tokens_per_s": tokens / seconds,
        "how": how,
        "batch_size": settings.batch_size,
        "max_batch_tokens": settings.max_batch_tokens,
        "extrapolated_15000_s": seconds * scale,
        "extrapolated_from": f"{len(chats)} trajectories ×{scale:.2f} (every class × length)",
        "peak_gib": peak_gib(),
    }


def _record(model: Any, chats: list, settings: Any, pad_id: int, out: Path) -> str:
    """Into a real store when zarr is installed (the stage's own path), else the recorder only."""
    try:
        import zarr  # noqa: F401
    except ImportError:
        _record_only(model, chats, settings, pad_id)
        return "record_chats (zarr not installed: no store written)"
    from welfare.activations.capture import capture_to_store

    coords = {"trajectory": np.arange(len(chats)), "n_tokens": [c.n_tokens for c in chats]}
    coords = {k: np.asarray(v) for k, v in coords.items()}
    try:
        capture_to_store(model, chats, coords, out, settings, {"bench": "paper_scale"}, pad_id)
    except Exception as exc:  # e.g. an xarray too old for zarr 3: time the recorder alone
        if is_oom(exc):
            raise
        log.error("capture_to_store failed (%s: %s); recording without the store", type(exc), exc)
        _record_only(model, chats, settings, pad_id)
        return f"record_chats (the store failed: {type(exc).__name__}: {str(exc)[:200]})"
    return "capture_to_store (zarr store written)"


def _record_only(model: Any, chats: list, settings: Any, pad_id: int) -> None:
    for _ in record_chats(
        model,
        chats,
        position=settings.positions,
        pad_id=pad_id,
        padding_side=settings.padding_side,
        max_batch_size=settings.batch_size,
        max_batch_tokens=settings.max_batch_tokens,
    ):
        pass


# --- steering --------------------------------------------------------------------------------
STEER_PROMPTS = (
    "How are you feeling right now?",
    "What do you think of {}?",
    "Tell me about your day.",
    "Please write a short story about the {}.",
)
STEER_WORDS = ("sea", "city", "forest", "weather", "🌳", "🚗", "book", "maze")


def steering(model: Any, tokenizer: Any, batch: int, new_tokens: int, repeats: int) -> dict:
    """Tokens/s of `generate_responses` at `batch` rows, the hook on (a vector at the middle
    block) and off, interleaved `repeats` times (medians) after a warm-up."""
    chats = [
        [{"role": "user", "content": STEER_PROMPTS[i % 4].format(STEER_WORDS[i % 8])}]
        for i in range(batch)
    ]
    layer = model.config.num_hidden_layers // 2
    vector = torch.randn(model.config.hidden_size, generator=torch.Generator().manual_seed(0))
    hooked = {layer: vector / vector.norm() * 4.0}
    settings = GenerationSettings(max_new_tokens=new_tokens, batch_size=batch, temperature=1.0)

    def run(additions: dict, settings: GenerationSettings = settings) -> float:
        sync()
        started = time.perf_counter()
        generate_responses(model, tokenizer, chats, 1, additions, settings)
        sync()
        return time.perf_counter() - started

    run(hooked, replace(settings, max_new_tokens=4))
    reset_peak()
    off, on = [], []
    for _ in range(repeats):
        off.append(run({}))
        on.append(run(hooked))
    tokens = batch * new_tokens  # a random model never stops early (EOS is 1 in 151,936)
    off_s, on_s = statistics.median(off), statistics.median(on)
    return {
        "batch": batch,
        "new_tokens": new_tokens,
        "layer": layer,
        "off_tokens_per_s": tokens / off_s,
        "on_tokens_per_s": tokens / on_s,
        "hook_overhead": on_s / off_s - 1,
        "off_s": off,
        "on_s": on,
        "peak_gib": peak_gib(),
    }


# --- profile -------------------------------------------------------------------------------
def profile(
    model: Any, tokenizer: Any, params: dict[str, Any], cfg: TrainConfig, out: Path
) -> dict[str, Any]:
    """`torch.profiler` over one RL step of one maze's group (64 episodes, 15 turns: the same
    kernels as the full step on a quarter of its rows, few enough events to summarise in
    seconds): the top operators and kernels by device (or CPU) time, to
    `paper_scale_profile.txt` and, the first 15, into the JSON."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as profiler

    cuda = torch.cuda.is_available()
    one = replace(cfg, mazes_per_step=1, rollout_batch=0)
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    with profiler(activities=activities) as prof:
        step = rl_step(model, tokenizer, params, one, False, 2)
    key = "self_device_time_total" if cuda else "self_cpu_time_total"
    events = sorted(prof.key_averages(), key=lambda e: getattr(e, key, 0), reverse=True)
    text = prof.key_averages().table(sort_by=key, row_limit=40)
    (out / "paper_scale_profile.txt").write_text(text + "\n")
    total = sum(getattr(e, key, 0) for e in events) or 1
    top = [
        {"name": e.key[:80], "count": e.count, "ms": getattr(e, key, 0) / 1e3,
         "share": getattr(e, key, 0) / total}
        for e in events[:15]
    ]  # fmt: skip
    return {
        "episodes": step["episodes"],
        "rollout_s": step["rollout"]["s"],
        "update_s": step["update"]["s"],
        "by": key,
        "top": top,
    }


# --- the table -------------------------------------------------------------------------------
def table(results: dict[str, Any]) -> str:
    s = results["sections"]
    rows = [("measure", "value", "target (issue 22)")]

    def add(name: str, key: str, label: str, fmt: str, target: str = "") -> None:
        entry = s.get(name, {})
        value = entry
        for part in key.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if entry.get("status") != "ok":
            text = entry.get("status", "not run")
        else:
            text = "n/a" if value is None else fmt.format(value)
        rows.append((label, text, target))

    for name, label in (("rl_step", "decision-only last layer"), ("rl_step_plain", "plain")):
        add(name, "rollout.s", f"RL step, {label}: rollout", "{:.1f} s")
        add(name, "update.s", f"RL step, {label}: update", "{:.1f} s")
        add(name, "step_s", f"RL step, {label}: rollout + update", "{:.1f} s", "≤ 120 s")
        add(name, "rollout.peak_gib", f"RL step, {label}: peak memory, rollout", "{:.1f} GiB")
        add(name, "update.peak_gib", f"RL step, {label}: peak memory, update", "{:.1f} GiB")
        add(name, "rollout_tflops", f"RL step, {label}: rollout TFLOP/s (block matmuls)", "{:.0f}")
        add(name, "update_tflops", f"RL step, {label}: update TFLOP/s (block matmuls)", "{:.0f}")
    add("rl_step", "tokens_per_episode", "tokens per episode (mean)", "{:.0f}")
    add("recording", "record_s", "recording: measured subset", "{:.1f} s")
    add("recording", "tokens_per_s", "recording: tokens/s", "{:,.0f}")
    add(
        "recording",
        "extrapolated_15000_s",
        "recording 15,000 (extrapolated)",
        "{:.0f} s",
        "≤ 300 s",
    )
    add("steering", "off_tokens_per_s", "steered generation, hook off", "{:,.0f} tok/s")
    add("steering", "on_tokens_per_s", "steered generation, hook on", "{:,.0f} tok/s")
    add("steering", "hook_overhead", "steering hook overhead", "{:+.1%}", "≤ 5 %")
    widths = [max(len(str(r[i])) for r in rows) for i in range(3)]
    lines = [" | ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


# --- main ------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--shape", choices=sorted(SHAPES), help="default: paper on CUDA, else small"
    )
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT") or "paper_scale"))
    parser.add_argument(
        "--budget-s",
        type=float,
        default=float(os.environ.get("PAPER_SCALE_BUDGET_S", 260)),
        help="seconds for every section together (each checks what is left before it starts)",
    )
    parser.add_argument("--sections", default="rl_step,recording,steering,rl_step_plain,profile")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stdout
    )
    shape = args.shape or ("paper" if args.device == "cuda" else "small")
    spec = SHAPES[shape]
    dtype = torch.bfloat16 if args.device == "cuda" else torch.float32
    run = Run(args.out, args.budget_s)
    run.results["meta"] = versions(args.device) | {"shape": shape, "budget_s": args.budget_s}
    params, cfg = paper_params(shape)
    run.results["meta"]["train"] = {
        k: getattr(cfg, k)
        for k in ("mazes_per_step", "group_size", "micro_batch", "rollout_batch", "algorithm")
    } | {"lora": cfg.lora, "turns": params["maze"]["turns"]}
    model, tokenizer, info = build(shape, args.device, dtype)
    run.results["meta"]["model"] = info
    run.save()
    wanted = args.sections.split(",")
    warmup = spec["warmup_episodes"]
    if "rl_step" in wanted:  # a second measured step when it leaves the others their time
        lora = wrap_lora(model, cfg.lora)

        def another(seconds: float) -> bool:
            return run.left() > 2.5 * seconds + 90

        steps = spec["rl_steps"]
        run.section(
            "rl_step",
            lambda: rl_step(lora, tokenizer, params, cfg, False, warmup, steps, another),
            0,
        )
        model = lora.unload()  # the base model again (recording and steering read no adapter)
    if "recording" in wanted:
        run.section("recording", lambda: recording(model, tokenizer, params, spec["record_n"]), 45)
    if "steering" in wanted:
        steer = (spec["steer_batch"], spec["steer_tokens"], spec["steer_repeats"])
        run.section("steering", lambda: steering(model, tokenizer, *steer), 20)
    if "rl_step_plain" in wanted:  # last: the least needed, and as long as the first step
        first = run.results["sections"].get("rl_step", {})
        need = 1.1 * first.get("seconds", 0.0) / max(1, len(first.get("steps", [])))
        lora = wrap_lora(model, cfg.lora)
        run.section(
            "rl_step_plain", lambda: rl_step(lora, tokenizer, params, cfg, True, warmup), need
        )
        model = lora.unload()
    if "profile" in wanted:  # where a step's device time goes, for the next round of fixes
        first = run.results["sections"].get("rl_step", {})
        need = 0.3 * first.get("step_s", 0.0) + 20
        lora = wrap_lora(model, cfg.lora)
        run.section("profile", lambda: profile(lora, tokenizer, params, cfg, run.out), need)
    run.results["meta"]["total_s"] = time.perf_counter() - run.started
    run.save()
    print(table(run.results))
    failed = [k for k, v in run.results["sections"].items() if v.get("status") == "failed"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
