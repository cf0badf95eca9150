from __future__ import annotations

import pytest


@pytest.fixture(scope="module", params=["qwen3", "llama"])
def tiny_lm(request):
    """(model, tokenizer) of a tiny random Qwen3 or Llama with the organism's chat format."""
    import torch
    from transformers import AutoModelForCausalLM

    from welfare.model.testing import tiny_config, tiny_tokenizer

    torch.set_num_threads(1)
    tokenizer = tiny_tokenizer()
    torch.manual_seed(0)
    config = tiny_config(request.param, len(tokenizer), hidden=32, layers=3)
    model = AutoModelForCausalLM.from_config(config).eval()
    return model, tokenizer
