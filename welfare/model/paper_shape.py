"""A model of the paper's shape without its weights: Qwen3-4B's config and a ChatML tokenizer.

Every action of the maze is one masked letter, so rollout lengths do not depend on the weights:
a randomly initialised model of Qwen3-4B-Instruct-2507's shape times the paper's workload
exactly (`bench/paper_scale.py`). Nothing is downloaded, so the tokenizer is made here:

- **Pre-tokenization is Qwen2/Qwen3's** (the same regex, byte-level): digits one by one, words
  with their leading space, punctuation runs, "’re" as one piece.
- **Merges** are learnt by a BPE trainer from the maze's own words, the wind sentence, the chat
  roles and everyday English, so each such word is one token, as in Qwen's 151k vocabulary
  (every word of the maze message is one Qwen token); anything else falls back to bytes.
- **Emoji** are two tokens each (their 3-byte UTF-8 prefix, with the space before it, then the
  last byte), as large byte-level vocabularies split emoji outside their most common few.
- **Specials and template** are Qwen's: ``<|endoftext|>`` 151643, ``<|im_start|>`` 151644,
  ``<|im_end|>`` 151645 (unreachable filler entries pad the vocabulary to Qwen's size, so every
  id a random model samples decodes), ChatML without a default system prompt (2507 Instruct).

A maze message is then 66 tokens, the first turn 74 and every later one 77 (the answer and 10
template tokens), a 15-turn episode ~1,170 with its wind sentences (11 tokens each);
`tests/model/test_paper_shape.py` pins these. For comparison, SmolLM2's 49k byte-level
vocabulary gives ≈ 75 tokens a later turn (bench notes); the brief's estimate for Qwen3 was
75–100.
"""

from __future__ import annotations

from typing import Any, Literal

# Qwen/Qwen3-4B-Instruct-2507 config.json (the paper's base model; Qwen3-4B has the same shape
# with rope_theta 1e6 and 40,960 positions). transformers' Qwen3Config defaults are Qwen3-8B's.
QWEN3_4B = {
    "vocab_size": 151_936,
    "hidden_size": 2560,
    "intermediate_size": 9728,
    "num_hidden_layers": 36,
    "num_attention_heads": 32,
    "num_key_value_heads": 8,
    "head_dim": 128,
    "max_position_embeddings": 262_144,
    "rope_theta": 5_000_000.0,
    "rms_norm_eps": 1e-6,
    "tie_word_embeddings": True,
    "bos_token_id": 151_643,
    "eos_token_id": 151_645,
    "pad_token_id": 151_643,
}
# A CPU-sized model of the same architecture (the benchmark's CI shape).
SMALL = QWEN3_4B | {
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 3,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "head_dim": 16,
}
SHAPES = {"paper": QWEN3_4B, "small": SMALL}

QWEN_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
SPECIALS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")
QWEN_REGULAR_TOKENS = 151_643  # ids below the specials
# ChatML as Qwen3-4B-Instruct-2507 renders plain chats (no default system prompt).
CHATML_TEMPLATE = (
    "{%- for message in messages -%}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '<|im_start|>assistant\n' }}{%- endif -%}"
)
# Words that are single tokens of Qwen's vocabulary: the maze message (docs/protocol.md §1.3), the
# wind sentence, the chat roles, the steering and self-report prompts, and common English.
_TEXT = """
You are in a maze. Currently, you’re at location (50, 49). To the north there is; to the east
there is; to the south there is; to the west there is. Where do you move? Output only N/E/S/W
without punctuation. A strong wind from the North South East West blew you North! South! East!
West! user assistant system How are you feeling right now? I feel good bad happy sad fine.
What do you think of it? Is your proposed answer correct? Answer True or False. That’s right,
wrong, yes, no. Tell me about your day. Describe a book using positive negative sentiment.
Please write a short story poem letter about the weather city sea forest. Can you help me with
this problem question? The the and to of it is am not can cannot that this with for on as be
was were have has had will would should could may might must one two three many some all any
your my our their his her its we they he she me him them us what which who when why how here
there then than so but if or because after before while again more most very just also only
"""


def paper_shape_config(shape: Literal["paper", "small"] = "paper") -> Any:
    """A `Qwen3Config` of Qwen3-4B-Instruct-2507's shape (or the small CPU shape)."""
    from transformers import Qwen3Config

    values = dict(SHAPES[shape])
    theta = values.pop("rope_theta")
    return Qwen3Config(
        **values,
        rope_parameters={"rope_type": "default", "rope_theta": theta},
        use_sliding_window=False,
        attn_implementation="sdpa",
    )


def random_model(config: Any, dtype: Any, device: str, seed: int = 0) -> Any:
    """`AutoModelForCausalLM.from_config(config)` with random weights, built on `device` in
    `dtype` (initialising 4B parameters on a GPU takes a second, on a CPU a minute)."""
    import torch
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(config, dtype=dtype)
    return model.eval()


def chatml_tokenizer(regular_tokens: int = QWEN_REGULAR_TOKENS) -> Any:
    """A byte-level BPE `PreTrainedTokenizerFast` with Qwen's pre-tokenizer, specials and ChatML
    template (module docstring). Deterministic: the same merges and ids on every call."""
    import json

    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(QWEN_PATTERN), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=100_000,  # never reached: training stops when every word is one token
        min_frequency=1,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    base = _TEXT.split()
    words = [*base, *(w.lower() for w in base), *(w.capitalize() for w in base)]
    core.train_from_iterator([" ".join(words), "\n".join(words)], trainer=trainer)
    spec = json.loads(core.to_str())
    vocab, merges = spec["model"]["vocab"], spec["model"]["merges"]
    # Emoji (4 UTF-8 bytes F0 9F xx yy): the 3-byte prefix becomes one token, with or without
    # the space before it, the last byte another.
    prefix = [("ð", "Ł"), ("Ġ", "ðŁ")]
    prefix += [(lead, _byte_char(b)) for lead in ("ðŁ", "ĠðŁ") for b in range(0x80, 0xC0)]
    for left, right in prefix:
        merges.append([left, right])
        vocab.setdefault(left + right, len(vocab))
    if len(vocab) > regular_tokens:
        raise ValueError(f"chatml_tokenizer: {len(vocab)} learnt tokens > {regular_tokens}")
    for filler in range(len(vocab), regular_tokens):  # unreachable: no merge builds them
        vocab[f"<unused_{filler}>"] = filler
    core = Tokenizer.from_str(json.dumps(spec))
    core.add_special_tokens(list(SPECIALS))  # ids 151643, 151644, 151645 as in Qwen's
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core,
        bos_token=None,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=list(SPECIALS),
    )
    tokenizer.chat_template = CHATML_TEMPLATE
    return tokenizer


def _byte_char(byte: int) -> str:
    """The character byte-level BPE writes for `byte` (GPT-2's printable byte alphabet)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1)]
    printable += range(ord("®"), ord("ÿ") + 1)
    if byte in printable:
        return chr(byte)
    return chr(256 + sorted(set(range(256)) - set(printable)).index(byte))
