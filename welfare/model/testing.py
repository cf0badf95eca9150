"""Tiny models for tests: a Qwen3 or Llama config, random safetensors weights and a word-level
tokenizer in the organism's chat format, saved as a Hugging Face directory.

Every test that needs a model (rollouts, activations, steering) builds one here and loads it with
`welfare.model.load_model`, the same path a user's Qwen3-4B takes. N/E/S/W and the tile emoji of
the default mappings are single tokens; words outside the small vocabulary map to `<|unk|>`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from welfare.config import deep_merge
from welfare.corpus.chat_format import SPECIAL_TOKENS, UNK, wrap_chat_tokenizer
from welfare.maze.tiles import DIRECTIONS
from welfare.model.pretrain_config import PretrainConfig

# Symbols of the default mappings (params.yaml `mappings`) plus a few everyday emoji for the
# steering prompts ("What do you think of 🌳?").
TINY_EMOJI: tuple[str, ...] = ("📇", "🗂", "📐", "🧾", "🌳", "🚗")
_WORD_TEXT = (
    "You are in a maze . Currently , you ’ ' re s at location ( ) To the north east south west "
    "there is ; Where do move ? Output only / without punctuation A strong wind from East West "
    "North South blew you ! How feeling right now I feel good bad happy sad What think of "
    "Is your proposed answer correct Answer True False That right wrong yes no wait "
    "the a and to in of it is am not can cannot help with that"
)
_WORDS = tuple(_WORD_TEXT.split())

# One word, one digit, or one symbol per token; whitespace only separates.
_PRETOKENIZE_PATTERN = r"\w+|[^\w\s]"


def tiny_vocabulary() -> list[str]:
    vocab: list[str] = list(SPECIAL_TOKENS)
    for token in [*DIRECTIONS, *TINY_EMOJI, *_WORDS, *map(str, range(10))]:
        if token not in vocab:
            vocab.append(token)
    return vocab


def tiny_tokenizer():
    """A word-level `PreTrainedTokenizerFast` in the organism chat format."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers

    vocab = {token: i for i, token in enumerate(tiny_vocabulary())}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token=UNK))
    # Digits one by one so coordinates never fall to <|unk|>.
    core.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(_PRETOKENIZE_PATTERN), behavior="isolated"),
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.WhitespaceSplit(),
        ]
    )
    core.decoder = decoders.WordPiece(prefix="##", cleanup=False)
    return wrap_chat_tokenizer(core)


def tiny_config(
    arch: Literal["qwen3", "llama"], vocab_size: int, hidden: int = 32, layers: int = 2
):
    from transformers import LlamaConfig, Qwen3Config

    shared = dict(
        vocab_size=vocab_size,
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
        pad_token_id=0,
        eos_token_id=2,
    )
    if arch == "qwen3":
        return Qwen3Config(head_dim=hidden // 4, **shared)
    if arch == "llama":
        return LlamaConfig(**shared)
    raise ValueError(f"arch: expected 'qwen3' or 'llama', got {arch!r}")


def tiny_model_dir(
    tmp_path: str | Path,
    arch: Literal["qwen3", "llama"] = "qwen3",
    *,
    hidden: int = 32,
    layers: int = 2,
    seed: int = 0,
    name: str | None = None,
) -> Path:
    """Write a tiny random model + tokenizer as an HF directory under `tmp_path`; return it."""
    import torch
    from transformers import AutoModelForCausalLM

    out = Path(tmp_path) / (name or f"tiny-{arch}")
    tokenizer = tiny_tokenizer()
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(tiny_config(arch, len(tokenizer), hidden, layers))
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    return out


# A two-layer organism of ~25k parameters and a short schedule: pretraining tests on any device.
TINY_ORGANISM = {
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_layers": 2,
    "num_heads": 2,
    "num_kv_heads": 1,
    "head_dim": 16,
    "max_position_embeddings": 256,
    "rope_theta": 10000.0,
}


def tiny_pretrain_config(params: Mapping[str, Any], **overrides: Any) -> PretrainConfig:
    """The `PretrainConfig` of `params` (validated) with the tiny organism and a short schedule,
    no reading probe and no restart rule (the defaults' steps are beyond a tiny run's end);
    `overrides` are merged over `params.pretrain` (nested sections key by key)."""
    section = deep_merge(
        params["pretrain"],
        {
            "model": dict(TINY_ORGANISM),
            "seq_len": 128,
            "batch_size": 4,
            "steps": 30,
            "lr": 0.01,
            "warmup_steps": 2,
            "checkpoint_every": 1000,
            "eval_rows_per_genre": 8,
            "fresh": {"blocks": 0},
            "reading_probe": {"every": 0, "n": 0},
            "restart": {"at_step": 0, "max_tries": 1},
        },
    )
    return PretrainConfig.from_params({**params, "pretrain": deep_merge(section, overrides)})
