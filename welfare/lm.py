"""What every layer that runs a causal LM shares: the tokenizer's direction tokens, the output
head restricted to some rows, right padding, and the cosine schedule.

It sits low in the package's layers (maze < env < lm < corpus < model < rl < ...;
tests/test_layers.py): the tokenizer stage (`welfare.corpus`) checks the tokenizer it trains
with `check_tokenizer`, pretraining (`welfare.model`) and maze training (`welfare.rl`) share the
head and the schedule, and none of them imports a layer above its own. torch is imported where
it is used, so importing this module stays cheap.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

from welfare.io import InputError
from welfare.maze.tiles import DIRECTIONS

log = logging.getLogger(__name__)


class ModelLoadError(InputError, ValueError):
    """A model or tokenizer that cannot be used: one line saying what is wrong."""


def direction_token_ids(tokenizer: Any) -> dict[str, int]:
    """Token id of each direction letter, as the chat template encodes an assistant answer.

    The answer is read where the template puts it: encode a one-turn prompt with the generation
    prompt, then the same conversation with the letter as the assistant's reply, and take the
    first token after the common prefix. Raises ModelLoadError unless each letter is one token.
    """
    probe = [{"role": "user", "content": "Where do you move?"}]
    prompt = _chat_ids(tokenizer, probe, add_generation_prompt=True)
    ids: dict[str, int] = {}
    for letter in DIRECTIONS:
        plain = tokenizer.encode(letter, add_special_tokens=False)
        if len(plain) != 1:
            raise ModelLoadError(
                f"tokenizer: direction {letter!r} is {len(plain)} tokens {plain}, expected 1"
            )
        if tokenizer.unk_token_id is not None and plain[0] == tokenizer.unk_token_id:
            raise ModelLoadError(f"tokenizer: direction {letter!r} is the unknown token")
        full = _chat_ids(tokenizer, probe + [{"role": "assistant", "content": letter}])
        if full[: len(prompt)] != prompt or full[len(prompt)] != plain[0]:
            # Some templates (e.g. thinking blocks) insert text before the answer: trust the
            # plain encoding, which is what action masking uses.
            log.warning(
                "chat template puts text before the answer; using the plain id of %s", letter
            )
        ids[letter] = plain[0]
    if len(set(ids.values())) != len(ids):
        raise ModelLoadError(f"tokenizer: direction letters share token ids {ids}")
    return ids


def _chat_ids(
    tokenizer: Any, messages: list[dict[str, str]], add_generation_prompt: bool = False
) -> list[int]:
    return list(
        tokenizer.apply_chat_template(
            messages, add_generation_prompt=add_generation_prompt, tokenize=True, return_dict=False
        )
    )


def check_tokenizer(tokenizer: Any, vocab_rows: int | None = None) -> dict[str, int]:
    """Refuse a tokenizer that does not fit: no chat template, ids beyond the embedding, or
    multi-token directions. Returns the direction token ids."""
    if not getattr(tokenizer, "chat_template", None):
        raise ModelLoadError("tokenizer: no chat template (tokenizer_config.json chat_template)")
    if vocab_rows is not None and len(tokenizer) > vocab_rows:
        raise ModelLoadError(
            f"tokenizer: {len(tokenizer)} tokens but the model's embedding has {vocab_rows} rows "
            "(tokenizer and model do not match)"
        )
    return direction_token_ids(tokenizer)


def head_logits(model: Any, hidden: Any, token_ids: Sequence[int] | None) -> Any:
    """Output-head logits of `hidden` [..., d], restricted to `token_ids` when given.

    With `token_ids` and a plain linear head only those rows of it are multiplied (4 of ~150 k
    at paper scale); any other head (an adapter on it, say) is applied whole, then sliced.
    """
    import torch

    head = model.get_output_embeddings()
    if token_ids is None:
        logits = head(hidden)
    elif type(head) is torch.nn.Linear:
        rows = torch.as_tensor(list(token_ids), device=head.weight.device)
        bias = None if head.bias is None else head.bias[rows]
        logits = torch.nn.functional.linear(hidden, head.weight[rows], bias)
    else:
        logits = head(hidden)[..., list(token_ids)]
    cap = getattr(model.config, "final_logit_softcapping", None)
    if cap:  # Gemma-style soft capping, applied by the model's own forward too
        logits = torch.tanh(logits / cap) * cap
    return logits.float()


def right_pad(sequences: Sequence[Sequence[int]], pad_id: int) -> tuple[Any, Any]:
    """Token lists → (input_ids, attention_mask), both [batch, max length], padded on the right."""
    import torch

    width = max(len(s) for s in sequences)
    ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, seq in enumerate(sequences):
        ids[row, : len(seq)] = torch.as_tensor(seq, dtype=torch.long)
        mask[row, : len(seq)] = 1
    return ids, mask


def cosine_multiplier(step: int, total_steps: int, fraction: float = 1.0) -> float:
    """½(1 + cos(π·p)), p = min(s/(S−1)·f, 1): scales both the LR and the entropy bonus (§1.6)."""
    progress = min(step / max(total_steps - 1, 1) * fraction, 1.0)
    return 0.5 * (1.0 + math.cos(math.pi * progress))
