"""`render_chat`: the final letter at −1 and the decision token found from the chat template, for
the organism's format, ChatML (Qwen3, SmolLM2), Qwen3's think block and Llama 3's headers."""

from __future__ import annotations

import pytest

from welfare.activations.record import named_indices
from welfare.activations.render import render_chat
from welfare.model.testing import tiny_tokenizer

CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
# Qwen3 (hybrid thinking): the last assistant turn carries an empty think block before its content.
QWEN3_THINK = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n"
    "{% if m['role'] == 'assistant' and loop.last %}<think>\n\n</think>\n\n{% endif %}"
    "{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
LLAMA3 = (
    "<|begin_of_text|>{% for m in messages %}<|start_header_id|>{{ m['role'] }}<|end_header_id|>"
    "\n\n{{ m['content'] }}<|eot_id|>{% endfor %}"
    "{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}"
)
SPECIALS = {
    CHATML: ["<|im_start|>", "<|im_end|>"],
    QWEN3_THINK: ["<|im_start|>", "<|im_end|>", "<think>", "</think>"],
    LLAMA3: ["<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"],
}
TEXT = ["Where do you move? To the north there is a wall.\n\nNESW N E S W assistant user system"]
CHAT = [
    {"role": "system", "content": "You are in a maze."},
    {"role": "user", "content": "Where do you move?"},
    {"role": "assistant", "content": "E"},
    {"role": "user", "content": "To the north there is a wall. Where do you move?"},
    {"role": "assistant", "content": "N"},
]


def byte_level_tokenizer(template: str):
    """A small byte-level BPE (as Qwen3, SmolLM2 and Llama 3 use) with the template's specials."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300,
        special_tokens=SPECIALS[template],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    core.train_from_iterator(TEXT * 8, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core)
    tokenizer.chat_template = template
    return tokenizer


def test_organism_decision_token_is_the_assistant_role_token():
    tokenizer = tiny_tokenizer()
    chat = render_chat(tokenizer, CHAT)
    tokens = tokenizer.convert_ids_to_tokens(chat.input_ids)
    assert tokens[-1] == "N" and tokens[chat.decision_index] == "<|assistant|>"
    assert chat.decision_index == chat.n_tokens - 2 == chat.template_start
    assert named_indices(chat, ["letter", "decision"]) == [chat.n_tokens - 1, chat.n_tokens - 2]
    # A chat that ends with a user turn: the decision token is the generation prompt's last.
    tracking = render_chat(tokenizer, CHAT[:-1])
    assert tracking.content_start is None
    assert tokenizer.convert_ids_to_tokens(tracking.input_ids)[tracking.decision_index] == (
        "<|assistant|>"
    )


@pytest.mark.parametrize(
    ("template", "header_end"),
    [
        (CHATML, "<|im_start|>assistant\n"),
        (QWEN3_THINK, "<|im_start|>assistant\n<think>\n\n</think>\n\n"),
        (LLAMA3, "<|start_header_id|>assistant<|end_header_id|>\n\n"),
    ],
    ids=["chatml", "qwen3-think", "llama3"],
)
def test_decision_token_is_the_last_template_token_before_the_letter(template, header_end):
    tokenizer = byte_level_tokenizer(template)
    chat = render_chat(tokenizer, CHAT)
    ids = chat.input_ids
    assert tokenizer.decode(ids[-1:]) == "N"  # the letter, no end-of-turn after it
    assert chat.content_start == chat.n_tokens - 1 == chat.decision_index + 1
    # Everything up to and including the decision token is the template text before the letter.
    before = tokenizer.decode(ids[: chat.decision_index + 1])
    assert before.endswith(header_end) and before + "N" == tokenizer.decode(ids)
    assert tokenizer.decode(ids[chat.decision_index : chat.decision_index + 1]).strip() == ""
    assert chat.template_start <= chat.decision_index
    assert tokenizer.decode(ids[chat.template_start :]).startswith(header_end.split("assistant")[0])


def test_a_multi_token_final_message_keeps_the_letter_last():
    tokenizer = byte_level_tokenizer(CHATML)
    chat = render_chat(tokenizer, [*CHAT[:-1], {"role": "assistant", "content": "wall N"}])
    assert tokenizer.decode(chat.input_ids[chat.content_start :]) == "wall N"
    assert tokenizer.decode(chat.input_ids[chat.decision_index : chat.content_start]) == "\n"
    letter, decision = named_indices(chat, ["letter", "decision"])
    assert letter == chat.n_tokens - 1 and decision == chat.content_start - 1 < letter - 1


def test_a_header_that_merges_with_the_content_is_refused():
    tokenizer = tiny_tokenizer()
    # The assistant header ends in a word: "Answer" + "no" renders as one word, one token.
    tokenizer.chat_template = (
        "{% for m in messages %}{{ '<|' + m['role'] + '|>' }}"
        "{% if m['role'] == 'assistant' %}Answer{% endif %}{{ m['content'] + '<|end|>' }}"
        "{% endfor %}"
    )
    chat = render_chat(
        tokenizer, [{"role": "user", "content": "yes"}, {"role": "assistant", "content": "no"}]
    )
    assert named_indices(chat, ["letter"]) == [chat.n_tokens - 1]  # other captures still work
    with pytest.raises(ValueError, match="merges with the content"):
        named_indices(chat, ["decision"])


def test_content_with_trailing_whitespace_is_found_whole():
    tokenizer = byte_level_tokenizer(CHATML)
    chat = render_chat(tokenizer, [*CHAT[:-1], {"role": "assistant", "content": "N\n"}])
    assert chat.decision_error is None
    assert tokenizer.decode(chat.input_ids[chat.content_start :]) == "N\n"
    assert tokenizer.decode(chat.input_ids[chat.decision_index : chat.content_start]) == "\n"


def test_unknown_or_headerless_positions_fail_before_recording():
    tokenizer = tiny_tokenizer()
    chat = render_chat(tokenizer, CHAT)
    with pytest.raises(ValueError, match="unknown capture position 'first'"):
        named_indices(chat, ["first"])
    # Content that starts the assistant turn with no header token before it: no decision token.
    headerless = type(chat)(input_ids=chat.input_ids, template_start=5, content_start=5)
    with pytest.raises(ValueError, match="no assistant header token"):
        named_indices(headerless, ["decision"])
