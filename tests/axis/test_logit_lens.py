from __future__ import annotations

import numpy as np
import torch

from welfare.axis.logit_lens import final_norm, logit_lens, vector_logits


def test_unembedding_row_is_promoted_and_its_negation_suppressed():
    from transformers import AutoModelForCausalLM

    from welfare.model.testing import tiny_config, tiny_tokenizer

    tokenizer = tiny_tokenizer()
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(tiny_config("llama", len(tokenizer))).eval()
    token = (
        tokenizer.convert_tokens_to_ids("impossible")
        if "impossible" in tokenizer.get_vocab()
        else tokenizer.convert_tokens_to_ids("cannot")
    )
    row = model.get_output_embeddings().weight[token].detach().numpy()
    readout = logit_lens(model, tokenizer, row * 10, top_k=3, apply_norm=False)
    assert readout.promoted[0][0] == tokenizer.convert_ids_to_tokens(token)
    flipped = logit_lens(model, tokenizer, -row * 10, top_k=3, apply_norm=False)
    assert flipped.suppressed[0][0] == tokenizer.convert_ids_to_tokens(token)
    # With the final RMSNorm: W_U · (γ ⊙ v / rms(v)), so the scale of v no longer matters.
    # (up to the norm's epsilon, negligible for a vector of this size).
    with_norm = vector_logits(model, row * 10, apply_norm=True)
    np.testing.assert_allclose(
        with_norm, vector_logits(model, row * 70, apply_norm=True), rtol=1e-3
    )
    norm = final_norm(model)
    with torch.no_grad():
        norm.weight.mul_(2.0)
    np.testing.assert_allclose(
        vector_logits(model, row * 10, apply_norm=True), with_norm * 2, rtol=1e-4
    )
