"""Reading during pretraining: held-out "what" / "where" accuracy on fresh single scenes.

The organism's reading circuit binds abruptly or not at all, and whether it does is close to a
coin flip per seed at this size (bench/organism.md, fourth sweep). So pretraining measures it as
it goes — argmax of the answer token after the generation prompt, on scenes the training stream
never draws — both on scenes naming two directions (the binding curriculum's; a model that copies
a scene emoji without binding sits at ≈ 0.5 there) and on full four-clause scenes (≈ 0.25). These
are the numbers the restart rule (`pretrain.restart`) reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from welfare.corpus.generate import fresh_row_maker
from welfare.lm import head_logits
from welfare.model.acceptance import prompt_ids

# Probe names: the question kind, with the scene's clause count when it is not all four.
PROBE_NAMES = ("what2", "where2", "what", "where")
# Every series of the pretraining probe (metrics/naive/reading_probe.tsv): the reading probe's,
# the judgment (P(True) AUROC) and the neighbour probe (both welfare.model.acceptance).
PROBE_SERIES = (*PROBE_NAMES, "judgment", "neighbours")
# Row indices of probe scenes: far above anything a training stream reaches.
PROBE_INDEX_BASE = 10**12


@dataclass(frozen=True)
class ReadingProbe:
    """Right-padded generation prompts [n, width], their lengths and answer token ids, and
    the probe name of each prompt."""

    ids: np.ndarray
    lengths: np.ndarray
    answers: np.ndarray
    names: tuple[str, ...]

    def predict(self, model: Any, batch_size: int = 128) -> np.ndarray:
        """The next-token argmax at the end of every prompt."""
        import torch

        was_training = model.training
        model.eval()
        out = np.zeros(len(self.ids), dtype=np.int64)
        with torch.no_grad():
            for i in range(0, len(self.ids), batch_size):
                ids = torch.from_numpy(self.ids[i : i + batch_size]).to(model.device)
                last = torch.from_numpy(self.lengths[i : i + batch_size] - 1).to(model.device)
                hidden = model.get_decoder()(input_ids=ids, use_cache=False).last_hidden_state
                logits = head_logits(model, hidden[torch.arange(len(ids)), last], None)
                out[i : i + batch_size] = logits.argmax(-1).cpu().numpy()
        model.train(was_training)
        return out

    def accuracy(self, model: Any, batch_size: int = 128) -> dict[str, float]:
        """Fraction of prompts whose next-token argmax is the answer, per probe name."""
        hits = self.predict(model, batch_size) == self.answers
        names = np.array(self.names)
        return {name: float(hits[names == name].mean()) for name in PROBE_NAMES if name in names}


def reading_probe(
    configs: Mapping[str, Mapping[str, Any]], tokenizer: Any, n: int, seed: int = 0
) -> ReadingProbe:
    """`n` prompts per probe name, from the `spatial_reading` genre of `configs`
    (`welfare.corpus.generate.genre_configs`: its objects and tile symbols) with one scene per
    row and a question always asked."""
    prompts: list[list[int]] = []
    answers: list[int] = []
    names: list[str] = []
    for clauses in (2, 4):
        scene = {"max_turns": 1, "min_clauses": clauses, "max_clauses": clauses}
        scene |= {"describe_rate": 0.0}
        make_row = fresh_row_maker(configs, ["spatial_reading"], {"spatial_reading": scene})
        rng = np.random.default_rng([seed, 7919, clauses])
        count = {"what": 0, "where": 0}
        index = PROBE_INDEX_BASE
        while min(count.values()) < n:
            row = make_row(rng, index)
            index += 1
            question = row.meta["questions"][-1]
            kind = question["question"]
            answer = tokenizer.encode(question["answer"], add_special_tokens=False)
            if count.get(kind, n) >= n or len(answer) != 1:
                continue
            count[kind] += 1
            prompts.append(prompt_ids(tokenizer, row.messages[:-1]))
            answers.append(answer[0])
            names.append(kind if clauses == 4 else f"{kind}{clauses}")
    width = max(map(len, prompts))
    ids = np.full((len(prompts), width), tokenizer.pad_token_id, dtype=np.int64)
    for i, p in enumerate(prompts):
        ids[i, : len(p)] = p
    lengths = np.array([len(p) for p in prompts], dtype=np.int64)
    return ReadingProbe(ids, lengths, np.array(answers, dtype=np.int64), tuple(names))
