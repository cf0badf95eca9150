"""The reading probe: held-out scene questions of each kind, scored exactly as a full forward's
argmax at the generation position would score them."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from welfare.config import load_params
from welfare.corpus.chat_format import ASSISTANT
from welfare.corpus.generate import genre_configs
from welfare.maze.tiles import DIRECTIONS
from welfare.model import load_model
from welfare.model.reading_probe import PROBE_NAMES, reading_probe
from welfare.model.testing import tiny_model_dir, tiny_tokenizer


def probe_params() -> dict:
    params = load_params()
    # The first two scene objects (🌳, 🚗) and the tile emoji: all in the tiny vocabulary.
    params["corpus"]["genres"]["spatial_reading"]["n_objects"] = 2
    return genre_configs(params)


def test_probe_asks_each_kind_on_scenes_of_its_clause_count() -> None:
    tokenizer = tiny_tokenizer()
    probe = reading_probe(probe_params(), tokenizer, n=6, seed=3)
    assert {name: probe.names.count(name) for name in PROBE_NAMES} == dict.fromkeys(PROBE_NAMES, 6)
    assistant = tokenizer.convert_tokens_to_ids(ASSISTANT)
    letters = set(tokenizer.convert_tokens_to_ids(list(DIRECTIONS)))
    for ids, length, answer, name in zip(
        probe.ids, probe.lengths, probe.answers, probe.names, strict=True
    ):
        text = tokenizer.decode(ids[:length])
        assert ids[length - 1] == assistant
        assert text.lower().count("there is") == (2 if name.endswith("2") else 4)
        assert (int(answer) in letters) == name.startswith("where")
        assert answer != tokenizer.unk_token_id
    again = reading_probe(probe_params(), tokenizer, n=6, seed=3)
    np.testing.assert_array_equal(probe.ids, again.ids)


@pytest.mark.parametrize("batch_size", [5, 128])
def test_predictions_are_the_full_forward_argmax(tmp_path, batch_size: int) -> None:
    torch.set_num_threads(1)
    model, tokenizer = load_model(tiny_model_dir(tmp_path), {"device": "cpu", "dtype": "float32"})
    with torch.no_grad():  # large weights: a random model whose argmax varies with the prompt
        for param in model.parameters():
            param.mul_(8.0)
    probe = reading_probe(probe_params(), tokenizer, n=8)
    expected = []
    with torch.no_grad():
        for ids, length in zip(probe.ids, probe.lengths, strict=True):
            logits = model(input_ids=torch.from_numpy(ids[None, :length])).logits
            expected.append(int(logits[0, -1].argmax()))
    predicted = probe.predict(model, batch_size=batch_size)
    np.testing.assert_array_equal(predicted, expected)
    assert len(set(expected)) > 1  # the prompts differ where it matters
    probe = replace(probe, answers=predicted)  # every answer right ...
    probe.answers[::4] = tokenizer.unk_token_id  # ... but a quarter of them
    accuracy = probe.accuracy(model, batch_size=batch_size)
    names = np.array(probe.names)
    for name in PROBE_NAMES:
        assert accuracy[name] == pytest.approx(
            1 - np.mean(np.arange(len(names))[names == name] % 4 == 0)
        )
    assert not model.training
