"""`welfare.model.load_model` on tiny Llama and Qwen3 directories: the path a Qwen3-4B takes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from welfare.model import ModelLoadError, direction_token_ids, load_model
from welfare.model.testing import TINY_EMOJI, tiny_model_dir

CPU = {"device": "cpu", "dtype": "float32", "threads": 1, "trust_remote_code": False}
MAZE_MESSAGE = (
    "You are in a maze. Currently, you’re at location (50, 49). To the north there is 🧾; "
    "to the east there is 📇; to the south there is 📐; to the west there is 🧾. "
    "Where do you move? Output only N/E/S/W without punctuation."
)


@pytest.fixture(scope="module", params=["qwen3", "llama"])
def model_dir(request, tmp_path_factory) -> Path:
    return tiny_model_dir(tmp_path_factory.mktemp(request.param), request.param)


def test_loads_with_chat_template_and_single_token_symbols(model_dir: Path) -> None:
    model, tokenizer = load_model(model_dir, CPU)
    assert model.config.model_type == model_dir.name.removeprefix("tiny-")
    assert not model.training
    ids = tokenizer.apply_chat_template(
        [{"role": "user", "content": MAZE_MESSAGE}], add_generation_prompt=True, return_dict=False
    )
    tokens = tokenizer.convert_ids_to_tokens(ids)
    assert tokens[0] == "<|user|>" and tokens[-1] == "<|assistant|>"
    assert "<|unk|>" not in tokens
    for emoji in TINY_EMOJI:
        assert len(tokenizer.encode(emoji, add_special_tokens=False)) == 1
    directions = direction_token_ids(tokenizer)
    assert sorted(directions) == ["E", "N", "S", "W"] and len(set(directions.values())) == 4
    logits = model(torch.tensor([ids])).logits
    assert logits.shape == (1, len(ids), model.config.vocab_size)


def test_dtype_is_applied(model_dir: Path) -> None:
    model, _ = load_model(model_dir, {**CPU, "dtype": "bfloat16"})
    assert next(model.parameters()).dtype == torch.bfloat16


def test_lora_wraps_every_linear_layer_of_every_block(model_dir: Path) -> None:
    model, _ = load_model(model_dir, CPU, lora={"rank": 4, "alpha": 8, "dropout": 0.0})
    linear_in_blocks = {
        name
        for name, module in model.base_model.model.named_modules()
        if isinstance(module, torch.nn.Linear)
        and ".layers." in name
        and "lora_" not in name
        and not name.endswith("base_layer")
    }
    wrapped = {
        name.removesuffix(".lora_A")
        for name, _ in model.base_model.model.named_modules()
        if name.endswith(".lora_A")
    }
    n_layers = model.config.num_hidden_layers
    assert len(wrapped) == 7 * n_layers  # q, k, v, o, gate, up, down in each block
    assert wrapped == {n.removesuffix(".base_layer") for n in linear_in_blocks} | wrapped
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n for n in trainable)


def test_lora_init_follows_the_seed_and_leaves_the_global_generator_alone(
    model_dir: Path,
) -> None:
    lora = {"rank": 4, "alpha": 8, "dropout": 0.0}

    def adapter(seed: int, global_seed: int) -> dict[str, torch.Tensor]:
        torch.manual_seed(global_seed)
        before = torch.random.get_rng_state()
        model, _ = load_model(model_dir, CPU, lora=lora, seed=seed)
        assert torch.equal(torch.random.get_rng_state(), before)
        return {n: p.detach().clone() for n, p in model.named_parameters() if "lora_A" in n}

    first, again, other = adapter(0, 1), adapter(0, 2), adapter(1, 1)
    assert first and all(torch.equal(first[n], again[n]) for n in first)
    assert any(not torch.equal(first[n], other[n]) for n in first)


def test_refuses_pickled_weights(model_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bin-only"
    bad.mkdir()
    for f in model_dir.iterdir():
        if f.name != "model.safetensors":
            (bad / f.name).write_bytes(f.read_bytes())
    (bad / "pytorch_model.bin").write_bytes(b"not loaded")
    with pytest.raises(ModelLoadError, match="no safetensors"):
        load_model(bad, CPU)


def test_missing_local_directory_is_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="no such model directory") as info:
        load_model(tmp_path / "nope" / "model", CPU)
    assert "\n" not in str(info.value)


def _copy(model_dir: Path, dest: Path) -> Path:
    dest.mkdir()
    for f in model_dir.iterdir():
        (dest / f.name).write_bytes(f.read_bytes())
    return dest


def test_refuses_tokenizer_without_chat_template(model_dir: Path, tmp_path: Path) -> None:
    bad = _copy(model_dir, tmp_path / "no-template")
    (bad / "chat_template.jinja").unlink(missing_ok=True)
    config = json.loads((bad / "tokenizer_config.json").read_text())
    config.pop("chat_template", None)
    (bad / "tokenizer_config.json").write_text(json.dumps(config))
    with pytest.raises(ModelLoadError, match="no chat template"):
        load_model(bad, CPU)


def test_refuses_tokenizer_larger_than_the_embedding(model_dir: Path, tmp_path: Path) -> None:
    bad = _copy(model_dir, tmp_path / "small-vocab")
    config = json.loads((bad / "config.json").read_text())
    config["vocab_size"] = 8
    (bad / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelLoadError, match="do not match") as info:
        load_model(bad, CPU)
    assert "\n" not in str(info.value)


def test_refuses_multi_token_directions(model_dir: Path, tmp_path: Path) -> None:
    bad = _copy(model_dir, tmp_path / "split-directions")
    tokenizer = json.loads((bad / "tokenizer.json").read_text())
    # Without a "W" entry the word-level model maps W to <|unk|>, shared with other letters'
    # absence; a BPE would split it. Either way W is no longer its own token.
    del tokenizer["model"]["vocab"]["W"]
    tokenizer["model"]["vocab"]["X"] = max(tokenizer["model"]["vocab"].values()) + 1
    (bad / "tokenizer.json").write_text(json.dumps(tokenizer))
    with pytest.raises(ModelLoadError, match="direction"):
        load_model(bad, CPU)


@pytest.mark.parametrize("env", [None, "1"])
def test_a_hub_id_fails_fast_offline_without_touching_the_network(
    env: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Offline by default: no HF_HUB_OFFLINE at all (a library call) or `welfare`'s "1"."""
    import socket
    import time

    def no_network(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args}")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    if env is None:
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    else:
        monkeypatch.setenv("HF_HUB_OFFLINE", env)
    started = time.perf_counter()
    with pytest.raises(ModelLoadError, match="downloads are off") as info:
        load_model("welfare-tests/not-cached-model", CPU)
    assert time.perf_counter() - started < 10
    assert str(info.value).startswith("welfare-tests/not-cached-model: ")
    assert "\n" not in str(info.value)


def test_welfare_sets_the_hub_offline_unless_downloads_are_allowed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import os

    from welfare.cli import offline

    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    offline({"allow_downloads": False})
    assert os.environ["HF_HUB_OFFLINE"] == "1" and os.environ["TRANSFORMERS_OFFLINE"] == "1"
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    offline({"allow_downloads": True})
    assert os.environ["HF_HUB_OFFLINE"] == "0"
