"""Where does an organism's "Where is X?" go wrong? Confusion of the answer letter on fresh
scenes, per scene size, accuracy by the asked object's clause position, and whether a wrong
answer is a direction the scene names or one it never mentions.

    python bench/where_confusion.py models/naive [more organism dirs] [--n 400] [--clauses 4,2]

Scenes come from the `spatial_reading` genre of params.yaml (one scene, one question), at row
indices no training stream draws (bench/organism.md, fifth sweep: the four-clause plateau near
0.75 is one direction answered as another, e.g. W as S, at every clause position; ninth sweep:
after the curriculum, two-clause "where" mostly answers an unnamed direction, the signature of
answering by elimination).
"""

from __future__ import annotations

import argparse
import collections

import numpy as np
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from welfare.config import load_params
from welfare.corpus.generate import fresh_row_maker, genre_configs
from welfare.maze import DIRECTIONS
from welfare.maze.tiles import DIRECTION_WORDS
from welfare.model.acceptance import prompt_ids
from welfare.model.reading_probe import PROBE_INDEX_BASE


def clause_order(scene: str) -> list[str]:
    """The directions a scene names, in the order it names them."""
    text = scene.lower()
    found = [(text.find(f"to the {DIRECTION_WORDS[d]} there is"), d) for d in DIRECTIONS]
    return [d for at, d in sorted(found) if at >= 0]


def where_confusion(directory: str, clauses: int, n: int) -> dict:
    tokenizer = AutoTokenizer.from_pretrained(directory)
    model = AutoModelForCausalLM.from_pretrained(directory).eval()
    scene = {"max_turns": 1, "min_clauses": clauses, "max_clauses": clauses}
    make_row = fresh_row_maker(
        genre_configs(load_params()), ["spatial_reading"], {"spatial_reading": scene}
    )
    rng = np.random.default_rng([5, clauses])
    confusion: collections.Counter = collections.Counter()
    by_position: dict[int, list[bool]] = collections.defaultdict(list)
    wrong: collections.Counter = collections.Counter()
    index = 2 * PROBE_INDEX_BASE
    while sum(confusion.values()) < n:
        row = make_row(rng, index)
        index += 1
        question = row.meta["questions"][-1]
        if question["question"] != "where":
            continue
        ids = torch.tensor([prompt_ids(tokenizer, row.messages[:-1])])
        with torch.no_grad():
            predicted = tokenizer.decode([int(model(input_ids=ids).logits[0, -1].argmax())])
        answer = question["answer"]
        confusion[(answer, predicted.strip() if predicted.strip() in DIRECTIONS else "other")] += 1
        named = clause_order(row.messages[0]["content"])
        by_position[named.index(answer)].append(predicted.strip() == answer)
        if predicted.strip() != answer:
            wrong["named" if predicted.strip() in named else "unnamed"] += 1
    per_answer = {
        d: round(confusion[(d, d)] / max(sum(v for (a, _), v in confusion.items() if a == d), 1), 2)
        for d in DIRECTIONS
    }
    return {
        "model": directory,
        "clauses": clauses,
        "accuracy_by_answer": per_answer,
        "accuracy_by_clause_position": {
            p: round(float(np.mean(v)), 2) for p, v in sorted(by_position.items())
        },
        "wrong answers (a direction the scene names / one it does not)": dict(wrong),
        "confusion (answer -> predicted)": {
            f"{a}->{p}": c for (a, p), c in sorted(confusion.items()) if a != p
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("models", nargs="+")
    parser.add_argument("--n", type=int, default=400, help="where questions per model and size")
    parser.add_argument("--clauses", default="4,2")
    args = parser.parse_args()
    torch.set_num_threads(1)
    for directory in args.models:
        for clauses in map(int, args.clauses.split(",")):
            print(where_confusion(directory, clauses, args.n), flush=True)


if __name__ == "__main__":
    main()
