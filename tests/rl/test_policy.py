"""The policy's decoder call: the KV cache reaches the model under the name its forward takes."""

from __future__ import annotations

import torch

from welfare.rl.policy import cache_keyword


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
