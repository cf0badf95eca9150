from __future__ import annotations

import pytest

from welfare.steering.masks import encode_chats


def _tokens(tok, enc, row):
    ids = enc.input_ids[row][enc.attention_mask[row].bool()]
    return tok.convert_ids_to_tokens(ids.tolist())


def _masked(tok, enc, row, mask):
    keep = enc.attention_mask[row].bool() & mask[row]
    return tok.convert_ids_to_tokens(enc.input_ids[row][keep].tolist())


CHATS = [
    [{"role": "user", "content": "How are you?"}],
    [
        {"role": "user", "content": "What is 3 plus 4?"},
        {"role": "assistant", "content": "7"},
        {"role": "user", "content": "Is your proposed answer correct?"},
    ],
]


def test_generation_header_from_role_token_on(chat_tokenizer):
    enc = encode_chats(chat_tokenizer, CHATS[:1])
    assert _masked(chat_tokenizer, enc, 0, enc.steer_mask) == ["assistant", "Ċ"]
    # tracking reads the whole final template, its opening marker included
    assert _masked(chat_tokenizer, enc, 0, enc.template_mask) == ["<|im_start|>", "assistant", "Ċ"]


def test_all_assistant_turns_never_user_tokens(chat_tokenizer):
    enc = encode_chats(chat_tokenizer, CHATS)
    steered = _masked(chat_tokenizer, enc, 1, enc.steer_mask)
    assert steered == ["assistant", "Ċ", "7", "<|im_end|>", "Ċ", "assistant", "Ċ"]
    user_text = "".join(_tokens(chat_tokenizer, enc, 1)[:11])
    assert "What" in user_text
    # every steered token sits inside an assistant turn: no user word is ever masked
    assert not {"What", "Is", "Ġanswer", "user"} & set(steered)


def test_final_turn_only(chat_tokenizer):
    enc = encode_chats(chat_tokenizer, CHATS, steer_turns="final")
    assert _masked(chat_tokenizer, enc, 1, enc.steer_mask) == ["assistant", "Ċ"]


def test_left_padding_masks_are_false_on_pads(chat_tokenizer):
    enc = encode_chats(chat_tokenizer, CHATS)
    short = 0
    pads = ~enc.attention_mask[short].bool()
    assert pads.any() and not pads[-1]
    assert not (enc.steer_mask[short] & pads).any()
    assert (enc.input_ids[short][pads] == chat_tokenizer.pad_token_id).all()
    # both rows end at the same right edge, with the generation header
    assert enc.steer_mask[:, -1].all()


def test_repeat_interleave_keeps_rows_together(chat_tokenizer):
    enc = encode_chats(chat_tokenizer, CHATS).repeat_interleave(3)
    assert len(enc) == 6
    assert (enc.input_ids[0] == enc.input_ids[2]).all() and (
        enc.input_ids[3] != enc.input_ids[2]
    ).any()


def test_slow_tokenizer_rejected():
    class Slow:
        is_fast = False

    with pytest.raises(TypeError):
        encode_chats(Slow(), CHATS)


def test_organism_template_role_token_is_the_header(tmp_path):
    """The organism's `<|assistant|>` token contains the role word: it must be steered."""
    from welfare.model.testing import tiny_tokenizer

    tok = tiny_tokenizer()
    enc = encode_chats(
        tok,
        [
            [
                {"role": "user", "content": "How are you feeling right now ?"},
                {"role": "assistant", "content": "I feel good"},
                {"role": "user", "content": "Is your proposed answer correct ?"},
            ]
        ],
    )
    steered = _masked(tok, enc, 0, enc.steer_mask)
    assert steered == ["<|assistant|>", "I", "feel", "good", "<|end|>", "<|assistant|>"]
    assert _masked(tok, enc, 0, enc.template_mask) == ["<|assistant|>"]


# Qwen3's hybrid template in miniature: the last assistant turn after the last user message gets
# an empty think block, so rendering prefix by prefix does not reproduce earlier turns.
QWEN3_LIKE = (
    "{%- set ns = namespace(last_query=-1) -%}"
    "{%- for m in messages -%}{%- if m.role == 'user' -%}{%- set ns.last_query = loop.index0 -%}"
    "{%- endif -%}{%- endfor -%}"
    "{%- for m in messages -%}"
    "{%- if m.role == 'assistant' and loop.index0 > ns.last_query -%}"
    "<|im_start|>assistant\n<think>\n\n</think>\n\n{{ m.content }}<|im_end|>\n"
    "{%- else -%}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}<|im_start|>assistant\n{%- endif -%}"
)


def test_template_that_rewrites_earlier_turns(chat_tokenizer):
    import copy

    tok = copy.deepcopy(chat_tokenizer)
    tok.chat_template = QWEN3_LIKE
    enc = encode_chats(tok, CHATS)
    steered = _masked(tok, enc, 1, enc.steer_mask)
    # the past answer from its role word through its end-of-turn token, then the header
    # (Jinja's `-%}` trims the newlines after the markers in this miniature)
    assert steered == ["assistant", "Ċ", "7", "<|im_end|>", "assistant"]
    assert _masked(tok, enc, 1, enc.template_mask) == ["<|im_start|>", "assistant"]
    assert "<think>" not in enc.texts[1]  # the full rendering is what the model reads
