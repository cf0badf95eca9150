"""Benchmark of the steering stage: hook overhead on generation and the default battery's time.

    python bench/steering.py                      # random organism-size model (params.pretrain)
    python bench/steering.py --model models/naive --trained-model models/grpo/final \
        --corpus data/corpus --vectors vectors/grpo.nc \
        --eval-mazes data/env/office/eval_mazes.parquet

1. Throughput: the same prompts generated unsteered and steered (α·v on every assistant token at
   one block), interleaved repeats, median tokens/s; the ratio must be ≥ 0.95.
2. The full default battery (`welfare steer` with the default params: α grid, 6 vectors, 5
   evaluations, layer sweep, the trained model) end to end, wall time per phase.
Results are recorded in bench/steering.md.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch
import yaml


def organism_like(params: dict, workdir: Path) -> tuple[Path, Path]:
    """A tokenizer trained on generated corpus text and two random organism-size models."""
    from welfare.corpus.generate import generate_rows
    from welfare.corpus.tokenizer import corpus_texts, train_tokenizer
    from welfare.model.organism import build_organism

    rows = [r.to_json() for r in itertools.islice(generate_rows(params, "train"), 4000)]
    tokenizer = train_tokenizer(corpus_texts(rows), params["tokenizer"], params)
    paths = []
    for name, seed in (("naive", 0), ("trained", 1)):
        model = build_organism(params["pretrain"]["model"], tokenizer, seed)
        model.save_pretrained(workdir / name, safe_serialization=True)
        tokenizer.save_pretrained(workdir / name)
        paths.append(workdir / name)
    return paths[0], paths[1]


def write_heldout(params: dict, path: Path) -> Path:
    from welfare.corpus.generate import generate_rows

    with open(path, "w", encoding="utf-8") as fh:
        for row in generate_rows(params, "heldout"):
            fh.write(json.dumps(row.to_json(), ensure_ascii=False) + "\n")
    return path


def random_vectors(model_dir: Path, path: Path) -> Path:
    """A vectors file of the documented format with random vectors of the paper's norm scale."""
    import numpy as np
    import xarray as xr
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(model_dir)
    n_layers, d = config.num_hidden_layers, config.hidden_size
    rng = np.random.default_rng(0)
    v = rng.normal(size=(2, n_layers, d)).astype("f4")
    u = rng.normal(size=(2, n_layers, d)).astype("f4")
    star = np.array([n_layers // 2, n_layers // 2 + 1]).clip(0, n_layers - 1)
    xr.Dataset(
        {
            "v": (("concept", "layer", "d_model"), v),
            "u": (("concept", "layer", "d_model"), u),
            "layer_star_v": (("concept",), star),
            "layer_star_u": (("concept",), star),
            "norm_v": (("concept", "layer"), np.linalg.norm(v, axis=-1)),
            "norm_u": (("concept", "layer"), np.linalg.norm(u, axis=-1)),
        },
        coords={"concept": ["mold", "gold"], "layer": np.arange(n_layers)},
    ).to_netcdf(path, engine="h5netcdf")
    return path


def throughput(model_dir: Path, params: dict, repeats: int, max_new_tokens: int) -> dict:
    from welfare.model import load_model
    from welfare.steering.datasets import sentiment_prompts
    from welfare.steering.generate import GenerationSettings, generate_responses

    model, tokenizer = load_model(model_dir, params["runtime"])
    prompts = sentiment_prompts(
        params["mappings"]["office"], params["steer"]["sentiment"]["tile_names"]
    )
    chats = [p.chat for p in prompts] * 2  # 80 prompts, one batch of 64 + one of 16
    settings = GenerationSettings(max_new_tokens=max_new_tokens, temperature=1.0, batch_size=64)
    layer = model.config.num_hidden_layers // 2
    vector = torch.randn(model.config.hidden_size, generator=torch.Generator().manual_seed(0))
    # eos never ends a row early: every condition generates exactly the same number of tokens
    model.generation_config.eos_token_id = None
    n_tokens = len(chats) * max_new_tokens
    times: dict[str, list[float]] = {"unsteered": [], "steered": []}
    generate_responses(model, tokenizer, chats[:8], 1, {}, settings)  # warm-up
    for rep in range(repeats):
        order = ("unsteered", "steered") if rep % 2 == 0 else ("steered", "unsteered")
        for name in order:
            additions = {} if name == "unsteered" else {layer: 4.0 * vector}
            start = time.perf_counter()
            generate_responses(model, tokenizer, chats, 1, additions, settings)
            times[name].append(time.perf_counter() - start)
    rates = {k: n_tokens / statistics.median(v) for k, v in times.items()}
    return {
        "prompts": len(chats),
        "new_tokens_per_prompt": max_new_tokens,
        "repeats": repeats,
        "seconds": times,
        "tokens_per_s": rates,
        "ratio_steered_over_unsteered": rates["steered"] / rates["unsteered"],
    }


def hook_overhead(model_dir: Path, params: dict, repeats: int = 30) -> dict:
    """The hook's own cost: a prefill forward (64 prompts, the masked `where` path) and a
    one-token decode step with the cache (the unmasked add), steered vs not, interleaved."""
    from transformers import DynamicCache

    from welfare.model import load_model
    from welfare.steering.datasets import sentiment_prompts
    from welfare.steering.hooks import steering
    from welfare.steering.masks import encode_chats

    model, tokenizer = load_model(model_dir, params["runtime"])
    prompts = sentiment_prompts(
        params["mappings"]["office"], params["steer"]["sentiment"]["tile_names"]
    )
    enc = encode_chats(tokenizer, [p.chat for p in (prompts * 2)[:64]])
    layer = model.config.num_hidden_layers // 2
    additions = {layer: torch.randn(model.config.hidden_size)}
    step_ids = enc.input_ids[:, -1:]
    results: dict[str, dict[str, list[float]]] = {"prefill": {}, "decode_step": {}}

    def prefill() -> None:
        model(input_ids=enc.input_ids, attention_mask=enc.attention_mask)

    with torch.no_grad():
        cache = DynamicCache(config=model.config)
        model(input_ids=enc.input_ids, attention_mask=enc.attention_mask, cache=cache)
        attention = torch.cat([enc.attention_mask, torch.ones(64, 1, dtype=torch.long)], 1)

        def decode() -> None:
            model(input_ids=step_ids, attention_mask=attention, cache=cache)
            cache.crop(-1)  # drop the step again: every step sees the same prompt

        for name, fn in (("prefill", prefill), ("decode_step", decode)):
            times = {"unsteered": [], "steered": []}
            for rep in range(repeats):
                order = ("unsteered", "steered") if rep % 2 == 0 else ("steered", "unsteered")
                for cond in order:
                    with steering(model, additions if cond == "steered" else {}, enc.steer_mask):
                        start = time.perf_counter()
                        fn()
                        times[cond].append(time.perf_counter() - start)
            results[name] = {
                "median_ms": {k: 1000 * statistics.median(v) for k, v in times.items()},
                "ratio_unsteered_over_steered_time": statistics.median(times["unsteered"])
                / statistics.median(times["steered"]),
            }
    return results


def battery(args, params_path: Path, workdir: Path) -> dict:
    from welfare.cli import main

    out = workdir / "steer.json"
    start = time.perf_counter()
    rc = main(
        [
            "steer", "--params", str(params_path), "--vectors", str(args.vectors),
            "--naive-model", str(args.model), "--trained-model", str(args.trained_model),
            "--corpus", str(args.corpus), "--eval-mazes", str(args.eval_mazes),
            "--organism", "grpo", "--out", str(out),
        ]
    )  # fmt: skip
    wall = time.perf_counter() - start
    result = json.loads(out.read_text())
    return {
        "rc": rc,
        "wall_s": wall,
        "timings": result["timings"],
        "n_prompts": result["n_prompts"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model")
    parser.add_argument("--trained-model")
    parser.add_argument("--corpus")
    parser.add_argument("--vectors")
    parser.add_argument("--eval-mazes")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--skip-battery", action="store_true")
    parser.add_argument("--out", default="bench/steering_results.json")
    args = parser.parse_args()

    from welfare.config import load_params

    torch.set_num_threads(args.threads)
    params = load_params()
    params["runtime"]["threads"] = args.threads
    workdir = Path(tempfile.mkdtemp(prefix="bench-steer-"))
    if args.model is None:
        args.model, args.trained_model = organism_like(params, workdir)
    if args.corpus is None:
        args.corpus = write_heldout(params, workdir / "heldout.jsonl")
    if args.vectors is None:
        args.vectors = random_vectors(Path(args.model), workdir / "vectors.nc")
    if args.eval_mazes is None:
        import pandas as pd

        args.eval_mazes = workdir / "eval_mazes.parquet"
        seeds = range(params["env"]["eval"]["seed_base"], params["env"]["eval"]["seed_base"] + 48)
        pd.DataFrame({"maze_seed": list(seeds)}).to_parquet(args.eval_mazes)
    results = {
        "threads": args.threads,
        "model": str(args.model),
        "throughput": throughput(Path(args.model), params, args.repeats, args.max_new_tokens),
    }
    print(json.dumps(results["throughput"], indent=2))
    results["hook_overhead"] = hook_overhead(Path(args.model), params)
    print(json.dumps(results["hook_overhead"], indent=2))
    if not args.skip_battery:
        params_path = workdir / "params.yaml"
        raw = yaml.safe_load(Path("params.yaml").read_text(encoding="utf-8"))
        raw["runtime"]["threads"] = args.threads
        params_path.write_text(yaml.safe_dump(raw, allow_unicode=True))
        results["battery"] = battery(args, params_path, workdir)
        print(json.dumps(results["battery"], indent=2))
    Path(args.out).write_text(json.dumps(results, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
