"""The policy's decoder call and output head."""

from __future__ import annotations

import torch

from welfare.rl.policy import cache_keyword, head_logits


class _NewStyle(torch.nn.Module):  # transformers ≥ 5.2x: `cache`
    def forward(self, input_ids=None, cache=None, use_cache=None, **kwargs):
        return cache


class _OldStyle(torch.nn.Module):  # earlier transformers: `past_key_values`, and `**kwargs`
    def forward(self, input_ids=None, past_key_values=None, use_cache=None, **kwargs):
        return past_key_values


def test_the_cache_goes_by_the_name_the_forward_takes() -> None:
    cache = object()
    for module in (_NewStyle(), _OldStyle()):
        # The wrong name would be swallowed by **kwargs and the model would run uncached.
        assert module(**{cache_keyword(module): cache}) is cache
    assert cache_keyword(_NewStyle()) == "cache"
    assert cache_keyword(_OldStyle()) == "past_key_values"


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
