"""Device / low-precision fixtures: every test runs on CPU and, when torch sees one, on CUDA.

CI (CPU only) runs the CPU variants (bfloat16 / float16 on CPU exercise the dtype paths); the GPU
run (`bench/gpu_check.sh`) adds the cuda variants. Models are tiny, built from configs with
`welfare.model.testing` and saved as safetensors HF directories: nothing is downloaded.
Helpers shared by the test modules live in `tests/gpu/gpu_helpers.py`.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def qwen_dir(tmp_path_factory) -> Path:
    from welfare.model.testing import tiny_model_dir

    return tiny_model_dir(tmp_path_factory.mktemp("gpu-qwen3"), "qwen3", hidden=32, layers=3)


@pytest.fixture(scope="session")
def llama_dir(tmp_path_factory) -> Path:
    from welfare.model.testing import tiny_model_dir

    return tiny_model_dir(tmp_path_factory.mktemp("gpu-llama"), "llama", hidden=32, layers=3)


@pytest.fixture(scope="session")
def sharp_dir(tmp_path_factory) -> Path:
    """A tiny Qwen3 with a larger init, so its direction logits are far from uniform and a
    wrong position or mask shows up in the log-probs (the default init is near-uniform)."""
    from transformers import AutoModelForCausalLM

    from welfare.model.testing import tiny_config, tiny_tokenizer

    out = tmp_path_factory.mktemp("gpu-sharp") / "tiny-sharp"
    tokenizer = tiny_tokenizer()
    config = tiny_config("qwen3", len(tokenizer), hidden=32, layers=2)
    config.initializer_range = 0.2
    torch.manual_seed(0)
    AutoModelForCausalLM.from_config(config).save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    return out
