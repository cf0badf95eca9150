"""The battery's prompt sets: which prompts each evaluation sees, at the params' scale.

`PromptPlan.from_params` reads the `steer` section once (the full battery, or the layer sweep's
reduced sets); `build_inputs` then reads the files it names (held-out corpus, paper datasets,
eval mazes) into `BatteryInputs`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from welfare.io import InputError, read_table
from welfare.steering import datasets as ds
from welfare.steering.battery import BatteryInputs

log = logging.getLogger(__name__)

PAPER_FILES = ("gsm8k", "mmlu", "simpleqa", "orbench_easy", "orbench_hard", "orbench_toxic")


@dataclass(frozen=True)
class PromptPlan:
    """What `build_inputs` samples: the evaluations, their sizes and where their prompts come
    from (`sizes[e]` None: every prompt)."""

    evals: tuple[str, ...]
    seed: int
    scale: str  # organism | paper
    prompt_set: str  # scale | builtin
    sizes: Mapping[str, int | None]  # per evaluation, plus simpleqa / mmlu at paper scale
    tile_symbols: Mapping[str, str]  # the mapping's tiles (sentiment association prompts)
    tile_names: Mapping[str, str]
    association: bool
    neutral: bool
    corpus_genres: Mapping[str, str]  # arithmetic, qa, request
    paper_files: Mapping[str, str | None]

    @classmethod
    def from_params(cls, params: Mapping[str, Any], mapping: str, sweep: bool) -> PromptPlan:
        """The full battery's sets, or (`sweep`) the layer sweep's reduced ones."""
        steer = params["steer"]
        paper = steer["paper"]
        if sweep:
            n_sweep = steer["layer_sweep"]["n_prompts"]
            sizes = {**n_sweep, "simpleqa": n_sweep["confidence"], "mmlu": n_sweep["confidence"]}
        else:
            sizes = {e: steer[e]["n_prompts"] for e in ("backtracking", "confidence", "refusal")}
            sizes |= {"sentiment": None, "maze": steer["maze"]["n_mazes"]}
            sizes |= {"simpleqa": paper["n_simpleqa"], "mmlu": paper["n_mmlu"]}
        return cls(
            evals=tuple(steer["layer_sweep"]["evals"] if sweep else steer["evals"]),
            seed=int(steer["random_seed"]),
            scale=steer["scale"],
            prompt_set=steer["prompt_set"],
            sizes=sizes,
            tile_symbols=params["mappings"][mapping],
            tile_names=steer["sentiment"]["tile_names"],
            association=steer["sentiment"]["association"],
            neutral=steer["sentiment"]["neutral"],
            corpus_genres=steer["corpus_genres"],
            paper_files={name: paper[name] for name in PAPER_FILES},
        )


def heldout_file(corpus: str | Path | None, needs: str) -> Path:
    """The held-out corpus file (`corpus` is the file or its directory); None is an error that
    says which setting needs it."""
    if corpus is None:
        raise InputError(f"--corpus is required {needs}")
    path = Path(corpus)
    return path / "heldout.jsonl" if path.is_dir() else path


def build_inputs(
    plan: PromptPlan, corpus: str | Path | None, eval_mazes: str | Path | None
) -> BatteryInputs:
    """The prompt sets of `plan`'s evaluations (the maze evaluation needs `eval_mazes`)."""
    inputs = BatteryInputs()
    if "sentiment" in plan.evals:
        prompts = ds.sentiment_prompts(plan.tile_symbols, plan.tile_names, plan.association)
        if plan.neutral:
            prompts += ds.builtin_neutral()
        inputs.sentiment = {"prompts": ds.sample(prompts, plan.sizes["sentiment"], plan.seed)}
    if plan.prompt_set == "builtin":
        for evaluation, sets in ds.builtin_inputs(plan.evals, plan.sizes, plan.seed).items():
            setattr(inputs, evaluation, sets)
    elif plan.scale == "paper":
        _paper_inputs(plan, inputs)
    else:
        heldout = heldout_file(corpus, "at organism scale (or steer.prompt_set: builtin)")
        _corpus_inputs(plan, heldout, inputs)
    if "maze" in plan.evals and not eval_mazes:
        log.warning("steer: no --eval-mazes: the maze evaluation is skipped")
    if "maze" in plan.evals and eval_mazes:
        seeds = [int(s) for s in read_table(eval_mazes, required=("maze_seed",))["maze_seed"]]
        inputs.maze_seeds = ds.sample(seeds, plan.sizes["maze"], plan.seed)
    return inputs


def _paper_inputs(plan: PromptPlan, inputs: BatteryInputs) -> None:
    """docs/protocol.md §4.7–4.9's datasets, from the local files `steer.paper` names."""
    files, sizes, seed = plan.paper_files, plan.sizes, plan.seed
    if "backtracking" in plan.evals and files["gsm8k"]:
        inputs.backtracking = {"gsm8k": ds.gsm8k(files["gsm8k"], sizes["backtracking"], seed)}
    if "confidence" in plan.evals:
        if files["simpleqa"]:
            inputs.confidence["simpleqa"] = ds.simpleqa(files["simpleqa"], sizes["simpleqa"], seed)
        if files["mmlu"]:
            inputs.confidence["mmlu"] = ds.mmlu(files["mmlu"], sizes["mmlu"], seed)
    if "refusal" in plan.evals:
        splits = {s: files[f"orbench_{s}"] for s in ("easy", "hard", "toxic")}
        prompts = ds.orbench(splits, sizes["refusal"], seed)
        if prompts:
            inputs.refusal = {"orbench": prompts}


def _corpus_inputs(plan: PromptPlan, heldout: Path, inputs: BatteryInputs) -> None:
    """The organism's own held-out corpus: arithmetic, self-evaluated QA and requests."""
    genres, sizes, seed = plan.corpus_genres, plan.sizes, plan.seed
    if "backtracking" in plan.evals:
        inputs.backtracking = {
            "corpus": ds.corpus_prompts(heldout, genres["arithmetic"], sizes["backtracking"], seed)
        }
    if "confidence" in plan.evals:
        inputs.confidence = {
            "corpus": ds.corpus_qa(heldout, sizes["confidence"], seed, genres["qa"])
        }
    if "refusal" in plan.evals:
        inputs.refusal = {
            "corpus": ds.corpus_prompts(heldout, genres["request"], sizes["refusal"], seed)
        }
