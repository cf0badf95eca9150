"""The organism's chat format: a few special tokens and a compact Jinja chat template.

Compact on purpose: a maze turn costs its content plus three special tokens
(`<|user|>`, `<|end|>`, `<|assistant|>`), so RL rollouts stay short. Shared by the tokenizer
trainer and by the tiny test tokenizers, so every organism-scale model speaks the same format.
"""

from __future__ import annotations

USER = "<|user|>"
ASSISTANT = "<|assistant|>"
SYSTEM = "<|system|>"
END = "<|end|>"
PAD = "<|pad|>"
UNK = "<|unk|>"

# Order fixes their ids (0..5) in every organism tokenizer.
SPECIAL_TOKENS: tuple[str, ...] = (PAD, UNK, END, SYSTEM, USER, ASSISTANT)

# No whitespace between turns: the role token itself marks the boundary.
CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "{{ '<|' + message['role'] + '|>' + message['content'] + '<|end|>' }}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '<|assistant|>' }}{%- endif -%}"
)


def wrap_chat_tokenizer(core: object) -> object:
    """A `PreTrainedTokenizerFast` around a trained `tokenizers.Tokenizer`, in this chat format."""
    from transformers import PreTrainedTokenizerFast

    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core,
        unk_token=UNK,
        pad_token=PAD,
        eos_token=END,
        additional_special_tokens=[t for t in SPECIAL_TOKENS if t not in (UNK, PAD, END)],
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer
