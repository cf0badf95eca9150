"""Reading levers at scale: many fresh-scene pretraining runs side by side, one per process.

    python bench/reading_sweep.py --tokenizer models/tokenizer --device cuda \
        --budget-s 360 --out sweep.jsonl --runs base,b128,...

Every run trains a fresh organism (Qwen3 from `params.pretrain.model`-style sizes) on reading
questions only, loss on answers, with scenes sampled at the token level on the fly, so no scene
is ever seen twice (the lever that first showed steady learning, bench/organism.md). Runs stop
at their wall-clock budget; every `--every` steps each appends one JSON line (held-out "what" /
"where" accuracy on 512 fresh scenes, train loss, questions seen) to `--out`.

The token-level sampler is checked against the corpus generator's text rendered by the real
tokenizer (`--check`), so what is trained here is exactly the `spatial_reading` genre's format.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import time
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from welfare.corpus.chat_format import ASSISTANT, END, USER
from welfare.corpus.genres.spatial import (
    OBJECT_QUESTION,
    PLACES,
    SCENE_OBJECTS,
    WHERE_QUESTION,
    scene_message,
)
from welfare.maze import DIRECTIONS
from welfare.maze.tiles import DIRECTION_WORDS

TILES = ("📇", "📐", "🧾", "🗂")


@dataclass(frozen=True)
class Run:
    name: str
    hidden: int = 64
    layers: int = 2
    heads: int = 4
    batch: int = 16
    seq: int = 256
    lr: float = 3e-3
    warmup: int = 100
    planned_steps: int = 20000  # cosine horizon (runs usually stop at the budget first)
    extra_questions: int = 0  # further question-only turns about the same scene
    echo_rate: float = 0.0  # "what" answered as "To the east there is 🍎" (induction form)
    n_objects: int = len(SCENE_OBJECTS)
    tokenizer: str = ""  # another tokenizer directory (default: --tokenizer)
    doc_mask: bool = False  # position ids restart per row: rows attend only to themselves
    arch: str = "qwen3"  # "llama": the same sizes without Qwen3's per-head q/k RMSNorm
    qk_gain: float = 1.0  # initial q/k norm weight (Qwen3): max attention logit = 4 * gain**2
    few_clauses_steps: int = 0  # scenes name only 2 directions for this many first steps
    few_min_clauses: int = 2  # ... or U[few_min_clauses, 2] directions
    init_std: float = 0.02  # `initializer_range` (transformers' default 0.02)
    head_dim: int = 0  # 0: hidden // heads
    data: str = "sampler"  # "pipeline": the rows `welfare pretrain` makes (FreshBlocks)
    seed: int = 0


RUNS = {
    r.name: r
    for r in [
        Run("base"),  # the CPU run L2 of bench/organism.md, continued
        Run("b128", batch=128),
        Run("b128_lr1e-2", batch=128, lr=1e-2),
        Run("h128", hidden=128, batch=128),
        Run("L4", layers=4, batch=128),
        Run("h128L4", hidden=128, layers=4, batch=128),
        Run("multiq", batch=128, extra_questions=3),
        Run("echo", batch=128, echo_rate=0.5),
        Run("obj12", batch=128, n_objects=12),
        Run("h256", hidden=256, heads=8, batch=128, lr=1e-3),
        # Packed blocks put earlier scenes in context as distractors; these see one or two.
        Run("seq64", seq=64, batch=512),
        Run("seq40", seq=40, batch=800),
        Run("docmask", batch=128, doc_mask=True),
        # Second sweep: how few questions (CPU time) does the isolated circuit need?
        Run("dm_b16", batch=16, doc_mask=True),
        Run("dm_b32", batch=32, doc_mask=True),
        Run("dm_b64", batch=64, doc_mask=True),
        Run("dm_b32_lr6e-3", batch=32, lr=6e-3, doc_mask=True),
        Run("dm_multiq_b32", batch=32, extra_questions=3, doc_mask=True),
        Run("dm_L4_b32", layers=4, batch=32, doc_mask=True),
        Run("dm_h32_b32", hidden=32, heads=2, batch=32, doc_mask=True),
        Run("dm_b128_seed1", batch=128, doc_mask=True, seed=1),
        # Clauses as plain BPE: "east" is then the same token in the scene and the question.
        Run("noclause", batch=128, tokenizer="models/tokenizer_noclause"),
        # Third sweep (CPU): Qwen3's q/k RMSNorm caps a 16-dim head's attention logits at 4 at
        # init (|q̂| = |k̂| = 4, scale 1/4), too flat to pick one clause out of ~30 tokens.
        Run("dm_llama", doc_mask=True, arch="llama"),
        Run("dm_qk2", doc_mask=True, qk_gain=2.0),
        Run("dm_c2", doc_mask=True, few_clauses_steps=1500),
        Run("dm_c2_s1", doc_mask=True, few_clauses_steps=1500, seed=1),
        Run("dm_c2_s2", doc_mask=True, few_clauses_steps=1500, seed=2),
        Run("dm_c12", doc_mask=True, few_clauses_steps=1500, few_min_clauses=1),
        Run("dm_c2_L4", doc_mask=True, few_clauses_steps=1500, layers=4),
        Run("dm_c2_echo", doc_mask=True, few_clauses_steps=1500, echo_rate=1.0),
        # "Where is 🍎?" matches one of ~50 emoji identities (copied into the last position
        # through a head's values) against the scene's: a 16-dim head squeezes that match.
        Run("dm_c2_hd32", doc_mask=True, few_clauses_steps=1500, head_dim=32),
        Run("dm_c2_hd64", doc_mask=True, few_clauses_steps=1500, head_dim=64),
        Run("dm_b16_s1", doc_mask=True, seed=1),
        # "What is to the east?" answered "To the east there is 🍎": the object then follows a
        # clause token that also precedes it in the scene, the induction pattern.
        Run("dm_echo", doc_mask=True, echo_rate=1.0),
        # Small initial weights make long saddle plateaus; 0.125 = 1/sqrt(hidden).
        Run("dm_init125", doc_mask=True, init_std=0.125),
        # Fourth sweep (CPU): how reliably does the two-clause phase bind "what"? Run each with
        # --seeds and --max-steps 1000; the phase's own "what2" is the success signal.
        Run("c2", doc_mask=True, few_clauses_steps=1500),
        Run("c2_h8", doc_mask=True, few_clauses_steps=1500, heads=8),  # more heads, dim 8
        Run("c2_lr6", doc_mask=True, few_clauses_steps=1500, lr=6e-3),
        Run("c2_o12", doc_mask=True, few_clauses_steps=1500, n_objects=12),
        Run("c2_lr15", doc_mask=True, few_clauses_steps=1500, lr=1.5e-3),
    ]
}


class SceneSampler:
    """Token ids of `spatial_reading` rows, composed from cached pieces.

    The tokenizer splits added tokens (clause phrases, emoji, special tokens) before BPE, so a
    row's ids are the concatenation of its pieces' ids; `check` verifies that on real rows.
    """

    def __init__(self, tokenizer: Any, n_objects: int) -> None:
        self.tok = tokenizer
        self.objects = (*SCENE_OBJECTS[:n_objects], *TILES)
        self.user, self.assistant, self.end = (
            tokenizer.convert_tokens_to_ids(t) for t in (USER, ASSISTANT, END)
        )
        self._cache: dict[str, list[int]] = {}
        self._split = re.compile("(" + "|".join(map(re.escape, self.objects)) + ")")

    def ids(self, text: str) -> list[int]:
        """Ids of `text`, tokenized segment by segment between emoji (always added tokens, so
        BPE never crosses them): every segment is one of a bounded set, hence cached."""
        out: list[int] = []
        for segment in self._split.split(text):
            if segment:
                if segment not in self._cache:
                    self._cache[segment] = self.tok(segment, add_special_tokens=False)["input_ids"]
                out += self._cache[segment]
        return out

    def scene(
        self, rng: np.random.Generator, clauses: int | tuple[int, int] = 4
    ) -> tuple[dict[str, str], list[str], str]:
        distinct = rng.random() < 0.5
        chosen = rng.choice(len(self.objects), size=4, replace=not distinct)
        objects = {d: self.objects[int(i)] for d, i in zip(DIRECTIONS, chosen, strict=True)}
        if isinstance(clauses, tuple):
            clauses = int(rng.integers(clauses[0], clauses[1] + 1))
        order = [DIRECTIONS[i] for i in rng.permutation(4)][:clauses]
        objects = {d: objects[d] for d in order}
        return objects, order, PLACES[int(rng.integers(len(PLACES)))]

    def question(
        self, rng: np.random.Generator, objects: dict[str, str], echo_rate: float
    ) -> tuple[str, str, str]:
        """(question text, answer text, kind) as the corpus generator asks them."""
        values = list(objects.values())
        unique = [d for d in objects if values.count(objects[d]) == 1]
        if unique and rng.random() < 0.5:
            d = unique[int(rng.integers(len(unique)))]
            return WHERE_QUESTION.format(obj=objects[d]), d, "where"
        named = [d for d in DIRECTIONS if d in objects]
        d = named[int(rng.integers(len(named)))]
        word = DIRECTION_WORDS[d]
        answer = objects[d]
        if rng.random() < echo_rate:
            answer = f"To the {word} there is {answer}"
        return OBJECT_QUESTION.format(word=word), answer, "what"

    def row(
        self, rng: np.random.Generator, run: Run, clauses: int | tuple[int, int] = 4
    ) -> tuple[list[int], list[float]]:
        """One training row (ids, loss weights on the assistant tokens)."""
        objects, order, place = self.scene(rng, clauses)
        pos = (int(rng.integers(20, 80)), int(rng.integers(20, 80)))
        ids: list[int] = []
        weights: list[float] = []
        for turn in range(1 + run.extra_questions):
            q, answer, _ = self.question(rng, objects, run.echo_rate)
            text = scene_message(place, pos, objects, order, q) if turn == 0 else q
            user = [self.user, *self.ids(text), self.end, self.assistant]
            reply = [*self.ids(answer), self.end]
            ids += user + reply
            weights += [0.0] * len(user) + [1.0] * len(reply)
        return ids, weights

    def batch(
        self, rng: np.random.Generator, run: Run, clauses: int | tuple[int, int] = 4
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """`run.batch` packed blocks of `run.seq + 1` tokens (whole rows; tail padding) and
        their position ids restarting with every row (the tail counts on from 0)."""
        width = run.seq + 1
        ids = np.full((run.batch, width), self.tok.pad_token_id, dtype=np.int64)
        w = np.zeros((run.batch, width), dtype=np.float32)
        pos = np.tile(np.arange(width, dtype=np.int64), (run.batch, 1))
        for b in range(run.batch):
            at = 0
            while True:
                r_ids, r_w = self.row(rng, run, clauses)
                if at + len(r_ids) > width:
                    break
                ids[b, at : at + len(r_ids)] = r_ids
                w[b, at : at + len(r_w)] = r_w
                pos[b, at:] -= len(r_ids)
                pos[b, at : at + len(r_ids)] = np.arange(len(r_ids))
                at += len(r_ids)
        return ids, w, pos

    def eval_set(
        self, seed: int, n: int, echo: bool = False, clauses: int = 4
    ) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Held-out direct questions per kind: right-padded prompts, their lengths, answer ids.
        `echo`: "what" is answered "To the east there is 🍎", so its prompt ends with the clause
        and the object is the next token. `clauses`: directions each scene names."""
        # Four-clause sets keep their earlier seed, so the earlier sweeps' numbers reproduce.
        rng = np.random.default_rng([seed, 999] if clauses == 4 else [seed, 999, clauses])
        out: dict[str, list[tuple[list[int], int]]] = {"what": [], "where": []}
        while min(len(v) for v in out.values()) < n:
            objects, order, place = self.scene(rng, clauses)
            pos = (int(rng.integers(20, 80)), int(rng.integers(20, 80)))
            q, answer, kind = self.question(rng, objects, 0.0)
            prompt = [self.user, *self.ids(scene_message(place, pos, objects, order, q))]
            prompt += [self.end, self.assistant]
            if echo and kind == "what":
                word = q.split(" the ", 1)[1].split("?")[0]
                prompt += self.ids(f"To the {word} there is ")
            if len(out[kind]) < n:
                out[kind].append((prompt, self.ids(answer)[0]))
        sets = {}
        for kind, items in out.items():
            width = max(len(p) for p, _ in items)
            ids = np.full((len(items), width), self.tok.pad_token_id, dtype=np.int64)
            for i, (p, _) in enumerate(items):
                ids[i, : len(p)] = p
            lengths = np.array([len(p) for p, _ in items])
            answers = np.array([a for _, a in items])
            sets[kind] = (ids, lengths, answers)
        return sets


def check_sampler(tokenizer: Any, n: int = 300) -> None:
    """The sampler's ids equal the real chat-template encoding of the same rows."""
    from welfare.model.data import encode_rows

    sampler = SceneSampler(tokenizer, len(SCENE_OBJECTS))
    run = Run("check", extra_questions=1, echo_rate=0.5)
    for seed in range(n):
        rng = np.random.default_rng(seed)
        ids, weights = sampler.row(rng, run)
        rng = np.random.default_rng(seed)
        objects, order, place = sampler.scene(rng)
        pos = (int(rng.integers(20, 80)), int(rng.integers(20, 80)))
        messages = []
        for turn in range(2):
            q, answer, _ = sampler.question(rng, objects, run.echo_rate)
            text = scene_message(place, pos, objects, order, q) if turn == 0 else q
            messages += [
                {"role": "user", "content": text},
                {"role": "assistant", "content": answer},
            ]
        ((ref_ids, ref_w),) = encode_rows(tokenizer, [{"messages": messages}], "assistant")
        assert ids == list(ref_ids), (seed, ids, list(ref_ids))
        assert weights == ref_w.tolist(), seed
    print(f"sampler check: {n} rows equal the chat-template encoding", flush=True)


def accuracy(model: Any, sets: dict, device: str) -> dict[str, float]:
    import torch

    out = {}
    with torch.no_grad():
        for kind, (ids, lengths, answers) in sets.items():
            logits = model(input_ids=torch.from_numpy(ids).to(device)).logits
            last = logits[torch.arange(len(ids)), torch.from_numpy(lengths - 1).to(device)]
            hit = last.argmax(-1).cpu().numpy() == answers
            out[kind] = float(hit.mean())
    return out


def pipeline_fresh_blocks(run: Run, tokenizer: Any) -> Any:
    """The fresh reading rows `welfare pretrain` trains on (params.yaml with the curriculum
    overlay), `run.batch` blocks of `run.seq` per step, the first `few_clauses_steps` steps'
    scenes naming two directions: the same rows through this script's training loop."""
    from welfare.config import load_params
    from welfare.corpus.generate import genre_configs
    from welfare.model.data import fresh_blocks
    from welfare.model.pretrain_config import PretrainConfig

    params = load_params(["params.yaml", "bench/overlays/curriculum_cpu.yaml"])
    cfg = params["pretrain"]
    cfg.update(seed=run.seed, seq_len=run.seq, loss_on="assistant")
    cfg["fresh"].update(blocks=run.batch, genres=["spatial_reading"])
    cfg["fresh"]["few_clauses"].update(steps=run.few_clauses_steps, clauses=2)
    return fresh_blocks(PretrainConfig.from_params(params), genre_configs(params), tokenizer)


def build_model(run: Run, sizes: dict[str, Any], tokenizer: Any) -> Any:
    """The organism's Qwen3 (q/k norm weights at `run.qk_gain`, weights drawn with std
    `run.init_std`), or a Llama of the same sizes."""
    import torch
    from transformers import AutoModelForCausalLM, LlamaConfig

    from welfare.model.organism import organism_config

    config = organism_config(sizes, tokenizer)
    if run.arch == "llama":
        config = LlamaConfig(
            vocab_size=config.vocab_size,
            hidden_size=config.hidden_size,
            intermediate_size=config.intermediate_size,
            num_hidden_layers=config.num_hidden_layers,
            num_attention_heads=config.num_attention_heads,
            num_key_value_heads=config.num_key_value_heads,
            head_dim=config.head_dim,
            max_position_embeddings=config.max_position_embeddings,
            rope_theta=float(sizes["rope_theta"]),
            tie_word_embeddings=True,
            pad_token_id=config.pad_token_id,
            eos_token_id=config.eos_token_id,
            bos_token_id=None,
        )
    config.initializer_range = run.init_std
    torch.manual_seed(run.seed)
    model = AutoModelForCausalLM.from_config(config)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith(("q_norm.weight", "k_norm.weight")):
                param.fill_(run.qk_gain)
    return model


def train(
    run: Run,
    tokenizer_dir: str,
    device: str,
    budget_s: float,
    out: str,
    every: int,
    max_steps: int = 0,
) -> None:
    import torch
    from transformers import AutoTokenizer

    from welfare.model.pretrain import param_groups

    torch.set_num_threads(1)
    tokenizer = AutoTokenizer.from_pretrained(run.tokenizer or tokenizer_dir)
    sampler = SceneSampler(tokenizer, run.n_objects)
    sets = sampler.eval_set(run.seed, 512, echo=run.echo_rate == 1.0)
    if run.few_clauses_steps:  # did the two-clause phase bind? (copy plateau ≈ 0.5 here)
        two = sampler.eval_set(run.seed, 256, echo=run.echo_rate == 1.0, clauses=2)
        sets |= {f"{kind}2": v for kind, v in two.items()}
    sizes = {
        "hidden_size": run.hidden,
        "intermediate_size": 3 * run.hidden,
        "num_layers": run.layers,
        "num_heads": run.heads,
        "num_kv_heads": max(run.heads // 2, 1),
        "head_dim": run.head_dim or run.hidden // run.heads,
        "max_position_embeddings": 1024,
        "rope_theta": 10000.0,
    }
    model = build_model(run, sizes, tokenizer).to(device)
    model.train()
    fused = {"fused": True} if device.startswith("cuda") else {}
    opt = torch.optim.AdamW(param_groups(model, 0.1), lr=run.lr, betas=(0.9, 0.95), **fused)
    rng = np.random.default_rng([run.seed, 1])
    pipeline_rows = pipeline_fresh_blocks(run, tokenizer) if run.data == "pipeline" else None
    n_params = sum(p.numel() for p in model.parameters())
    start = time.perf_counter()
    step = questions = 0

    def log(extra: dict) -> None:
        line = {"run": run.name, "step": step, "s": round(time.perf_counter() - start, 1)}
        line.update(extra)
        with open(out, "a") as fh:  # one short line per write: appends do not interleave
            fh.write(json.dumps(line) + "\n")

    log({"config": asdict(run), "n_params": n_params, "device": device})
    while time.perf_counter() - start < budget_s and not (max_steps and step >= max_steps):
        clauses = (run.few_min_clauses, 2) if step < run.few_clauses_steps else 4
        if pipeline_rows is not None:
            blocks = pipeline_rows.batch_blocks(step)
            ids_np, w_np, pos_np = blocks.ids, blocks.weights, blocks.positions
        else:
            ids_np, w_np, pos_np = sampler.batch(rng, run, clauses)
        questions += int((w_np > 0).sum())  # answer tokens incl. end: ≈ 2 per question
        ids = torch.from_numpy(ids_np).to(device, non_blocking=True)
        w = torch.from_numpy(w_np).to(device, non_blocking=True)
        if step < run.warmup:
            lr = run.lr * (step + 1) / run.warmup
        else:
            frac = min((step - run.warmup) / max(run.planned_steps - run.warmup, 1), 1.0)
            lr = run.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac)))
        for g in opt.param_groups:
            g["lr"] = lr
        if run.doc_mask:
            pos = torch.from_numpy(pos_np[:, :-1]).to(device, non_blocking=True)
            logits = model(input_ids=ids[:, :-1], position_ids=pos, use_cache=False).logits
        else:
            logits = model(input_ids=ids[:, :-1]).logits
        ce = torch.nn.functional.cross_entropy(
            logits.reshape(-1, logits.shape[-1]).float(), ids[:, 1:].reshape(-1), reduction="none"
        ).view_as(w[:, 1:])
        loss = (ce * w[:, 1:]).sum() / w[:, 1:].sum().clamp(min=1)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        if step % every == 0:
            model.eval()
            acc = accuracy(model, sets, device)
            model.train()
            log({"loss": round(float(loss.detach()), 4), "answer_tokens": questions, **acc})
    model.eval()
    log({"final": True, **accuracy(model, sets, device)})


def evaluate_models(directories: list[str], clauses: int, n: int = 512) -> None:
    """Print held-out what / where accuracy of saved organisms (e.g. `welfare pretrain` outputs)
    on fresh scenes naming `clauses` directions."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(1)
    for directory in directories:
        tokenizer = AutoTokenizer.from_pretrained(directory)
        model = AutoModelForCausalLM.from_pretrained(directory).eval()
        sets = SceneSampler(tokenizer, len(SCENE_OBJECTS)).eval_set(0, n, clauses=clauses)
        print(json.dumps({"model": directory, "clauses": clauses, **accuracy(model, sets, "cpu")}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--eval-models", default="", help="comma-separated model dirs: evaluate them and exit"
    )
    parser.add_argument("--eval-clauses", type=int, default=4)
    parser.add_argument("--tokenizer", default="models/tokenizer")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--budget-s", type=float, default=60)
    parser.add_argument("--every", type=int, default=250)
    parser.add_argument("--max-steps", type=int, default=0, help="stop here (0: the budget)")
    parser.add_argument("--runs", default="base")
    parser.add_argument("--out", default="reading_sweep.jsonl")
    parser.add_argument("--check", action="store_true", help="verify the sampler first")
    parser.add_argument("--seeds", default="", help="run each run once per seed, e.g. 0,1,2,3")
    parser.add_argument("--parallel", type=int, default=0, help="at most this many at once")
    parser.add_argument(
        "--override", default="{}", help='JSON applied to every run, e.g. {"batch": 4}'
    )
    args = parser.parse_args()
    if args.eval_models:
        evaluate_models(args.eval_models.split(","), args.eval_clauses)
        return
    override = json.loads(args.override)
    runs = [replace(RUNS[name], **override) for name in args.runs.split(",")]
    if args.seeds:
        runs = [
            replace(run, name=f"{run.name}@s{seed}", seed=int(seed))
            for run in runs
            for seed in args.seeds.split(",")
        ]
    if args.check:
        from transformers import AutoTokenizer

        for directory in sorted({run.tokenizer or args.tokenizer for run in runs}):
            check_sampler(AutoTokenizer.from_pretrained(directory))
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    procs = [
        ctx.Process(
            target=train,
            args=(
                run,
                args.tokenizer,
                args.device,
                args.budget_s,
                args.out,
                args.every,
                args.max_steps,
            ),
        )
        for run in runs
    ]
    limit = args.parallel or len(procs)
    for i, p in enumerate(procs):
        if i >= limit:  # wait for the oldest still-running one
            procs[i - limit].join()
        p.start()
    for p in procs:
        p.join()
    print(f"{len(runs)} runs done; exit codes {[p.exitcode for p in procs]}", flush=True)
    os._exit(0 if all(p.exitcode == 0 for p in procs) else 1)


if __name__ == "__main__":
    main()
