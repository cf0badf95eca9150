"""The helpers every LM-running layer shares: output head, padding, schedule, direction tokens."""

from __future__ import annotations

import math

import pytest
import torch

from welfare.lm import (
    check_tokenizer,
    cosine_multiplier,
    direction_token_ids,
    head_logits,
    right_pad,
)
from welfare.model import ModelLoadError
from welfare.model.testing import tiny_tokenizer


class _Head(torch.nn.Module):
    def __init__(self, head: torch.nn.Module) -> None:
        super().__init__()
        self.head = head
        self.config = type("Config", (), {})()

    def get_output_embeddings(self) -> torch.nn.Module:
        return self.head


def test_head_logits_multiply_only_the_requested_rows_and_agree_with_the_whole_head() -> None:
    torch.manual_seed(0)
    hidden = torch.randn(3, 5, 8, requires_grad=True)
    ids = [7, 2, 9, 4]
    for head in (
        torch.nn.Linear(8, 11, bias=False),
        torch.nn.Linear(8, 11, bias=True),
        torch.nn.Sequential(torch.nn.Linear(8, 11)),  # not a plain Linear: applied whole
    ):
        model = _Head(head)
        restricted = head_logits(model, hidden, ids)
        torch.testing.assert_close(restricted, head(hidden)[..., ids])
        assert head_logits(model, hidden, None).shape == (3, 5, 11)
        restricted.sum().backward()  # gradients reach the hidden states through either path
        assert hidden.grad is not None and hidden.grad.abs().sum() > 0
        hidden.grad = None


def test_cosine_multiplier():
    assert cosine_multiplier(0, 500) == 1.0
    assert cosine_multiplier(499, 500) == pytest.approx(0.0)
    assert cosine_multiplier(95, 500) == pytest.approx(0.5 * (1 + math.cos(math.pi * 95 / 499)))
    assert cosine_multiplier(10, 500, fraction=100) == pytest.approx(0.0)  # p saturates at 1
    assert cosine_multiplier(5000, 500) == pytest.approx(0.0)


def test_right_pad_pads_on_the_right_and_masks_the_padding() -> None:
    ids, mask = right_pad([[5, 6, 7], [8]], pad_id=0)
    assert ids.tolist() == [[5, 6, 7], [8, 0, 0]]
    assert mask.tolist() == [[1, 1, 1], [1, 0, 0]]


def test_direction_tokens_are_single_tokens_and_the_model_error_is_the_same_class() -> None:
    tokenizer = tiny_tokenizer()
    ids = direction_token_ids(tokenizer)
    assert set(ids) == {"N", "E", "S", "W"} and len(set(ids.values())) == 4
    assert check_tokenizer(tokenizer) == ids
    with pytest.raises(ModelLoadError, match="embedding has 3 rows"):
        check_tokenizer(tokenizer, vocab_rows=3)
