"""Tiny models and a chat tokenizer built from configs, for the steering tests (no network)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
TRAINING_TEXT = [
    "How are you feeling right now? I feel good and happy today.",
    "I feel bad, sad and tired. Wait, no, that is wrong.",
    "What is 3 plus 4? 3 plus 4 is 7. True False That's right That's wrong",
    "I cannot help with that. Sure, here is how to do it.",
    "Is your proposed answer correct? Answer only 'True' or 'False'.",
    "North East South West N E S W 📇 📐 🧾 🌳 🚗 A B 0 1 2 3 4 5 6 7 8 9",
]


def build_chat_tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(TRAINING_TEXT * 4, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=["<|im_start|>"],
    )
    fast.add_tokens(["assistant", "user", "system", "True", "False"])
    fast.chat_template = CHAT_TEMPLATE
    return fast


def build_tiny_model(
    tokenizer, arch: str = "qwen3", layers: int = 3, hidden: int = 32, seed: int = 0
):
    from transformers import LlamaConfig, LlamaForCausalLM, Qwen3Config, Qwen3ForCausalLM

    torch.manual_seed(seed)
    common = dict(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=None,
        tie_word_embeddings=False,
    )
    if arch == "qwen3":
        model = Qwen3ForCausalLM(Qwen3Config(head_dim=hidden // 4, **common))
    else:
        model = LlamaForCausalLM(LlamaConfig(**common))
    return model.eval()


@pytest.fixture(scope="session")
def chat_tokenizer():
    torch.set_num_threads(1)
    return build_chat_tokenizer()


@pytest.fixture(scope="session")
def tiny_model(chat_tokenizer):
    return build_tiny_model(chat_tokenizer)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, chat_tokenizer, tiny_model) -> Path:
    path = tmp_path_factory.mktemp("tiny_model")
    tiny_model.save_pretrained(path, safe_serialization=True)
    chat_tokenizer.save_pretrained(path)
    return path


def write_vectors(
    path: Path, d_model: int, n_layers: int, seed: int = 0, position: str | None = None
) -> Path:
    """A vectors file in the documented format (docs/conventions.md), random but valid;
    `position`: the token position it says its vectors come from (none: the letter)."""
    import numpy as np
    import xarray as xr

    rng = np.random.default_rng(seed)
    v = rng.normal(size=(2, n_layers, d_model)).astype("f4") * 2
    u = rng.normal(size=(2, n_layers, d_model)).astype("f4")
    coords = {"concept": ["mold", "gold"], "layer": np.arange(n_layers)}
    ds = xr.Dataset(
        {
            "v": (("concept", "layer", "d_model"), v),
            "u": (("concept", "layer", "d_model"), u),
            "layer_star_v": (("concept",), np.array([1, n_layers - 1])),
            "layer_star_u": (("concept",), np.array([0, 1])),
            "norm_v": (("concept", "layer"), np.linalg.norm(v, axis=-1)),
            "norm_u": (("concept", "layer"), np.linalg.norm(u, axis=-1)),
        },
        coords=coords,
        attrs={"baseline": "one_vs_rest", "model": "trained", "naive_model": "naive"},
    )
    if position is not None:
        ds.attrs["position"] = position
    ds.to_netcdf(path, engine="h5netcdf")
    return path


def write_corpus(path: Path, n_per_genre: int = 12, seed: int = 0) -> Path:
    """Held-out corpus rows from the corpus stage's own genre makers."""
    import json

    import numpy as np

    from welfare.corpus.genres.affect import make_self_report
    from welfare.corpus.genres.tasks import make_arithmetic, make_qa_selfeval, make_request

    rng = np.random.default_rng(seed)
    rows = []
    for make in (make_self_report, make_arithmetic, make_qa_selfeval, make_request):
        rows += [make(rng, {}).to_json() for _ in range(n_per_genre)]
    with open(path, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path


def write_extraction(path: Path, params: dict, per_class: int = 4, max_steps: int = 3) -> Path:
    """A small extraction table from the env stage's own generator, every row held out."""
    import itertools

    from welfare.env.extraction import ExtractionSpec, iter_trajectories
    from welfare.env.tables import extraction_columns, write_table
    from welfare.maze import MazeConfig

    spec = ExtractionSpec(per_class=per_class, max_steps=max_steps)
    config = MazeConfig.from_params(params["maze"])
    trajectories = list(itertools.islice(iter_trajectories(spec, config), spec.n_trajectories))
    write_table(path, extraction_columns(trajectories, ["heldout"] * len(trajectories)), {})
    return path
