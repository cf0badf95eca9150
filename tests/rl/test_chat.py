"""Turn segments are read off any turn-additive chat template."""

from __future__ import annotations

import pytest

from welfare.model.testing import tiny_tokenizer
from welfare.rl.chat import TurnFormat, encode_texts

CHATML = (
    "{% for m in messages %}"
    "{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>\\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
# Renders earlier assistant turns differently once a later user turn exists.
NOT_ADDITIVE = (
    "{% for m in messages %}{% if m['role'] == 'assistant' and not loop.last %}[old]{% endif %}"
    "{{ m['role'] + ':' + m['content'] + ';' }}{% endfor %}"
    "{% if add_generation_prompt %}assistant:{% endif %}"
)


def test_organism_template_segments():
    fmt = TurnFormat.from_tokenizer(tiny_tokenizer())
    assert fmt == TurnFormat("<|user|>", "<|end|><|assistant|>", "<|end|><|user|>")
    assert fmt.turn_text(0, "hi") == "<|user|>hi<|end|><|assistant|>"
    assert fmt.turn_text(3, "hi") == "<|end|><|user|>hi<|end|><|assistant|>"


def test_chatml_segments_rebuild_the_template():
    tokenizer = tiny_tokenizer()
    tokenizer.chat_template = CHATML
    fmt = TurnFormat.from_tokenizer(tokenizer)
    assert fmt.opening == "<|im_start|>user\n"
    assert fmt.user_to_assistant == "<|im_end|>\n<|im_start|>assistant\n"
    assert fmt.assistant_to_user == "<|im_end|>\n<|im_start|>user\n"
    messages = [
        {"role": "user", "content": "a"},
        {"role": "assistant", "content": "N"},
        {"role": "user", "content": "b"},
    ]
    rendered = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    assert fmt.conversation(["a", "b"], ["N"]) == rendered


def test_non_additive_template_is_refused():
    tokenizer = tiny_tokenizer()
    tokenizer.chat_template = NOT_ADDITIVE
    with pytest.raises(ValueError, match="turn-additive"):
        TurnFormat.from_tokenizer(tokenizer)


def test_encode_texts_gives_the_tokenizer_own_ids():
    tokenizer = tiny_tokenizer()
    texts = ["<|user|>To the north there is 📐 ; west 🧾 (5, 12)<|end|><|assistant|>", "N", "wait"]
    expected = tokenizer(texts, add_special_tokens=False)["input_ids"]
    assert encode_texts(tokenizer, texts) == expected

    class Slow:  # no Rust backend: the plain call
        def __call__(self, texts, add_special_tokens):
            return tokenizer(texts, add_special_tokens=add_special_tokens)

    assert encode_texts(Slow(), texts) == expected
