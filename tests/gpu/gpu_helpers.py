"""Shared constants and assertions of the device / low-precision tests (see conftest.py)."""

from __future__ import annotations

import pytest
import torch

HAS_CUDA = torch.cuda.is_available()
NEEDS_CUDA = pytest.mark.skipif(not HAS_CUDA, reason="torch sees no CUDA device")

DEVICES = [pytest.param("cpu", id="cpu"), pytest.param("cuda", id="cuda", marks=NEEDS_CUDA)]
LOW_DTYPES = [
    pytest.param(torch.bfloat16, id="bf16"),
    pytest.param(torch.float16, id="fp16"),
]
DTYPE_NAMES = {torch.float32: "float32", torch.bfloat16: "bfloat16", torch.float16: "float16"}


def runtime(device: str, dtype: torch.dtype) -> dict:
    """A `params.runtime` section for `load_model`."""
    return {"device": device, "dtype": DTYPE_NAMES[dtype], "threads": 0}


def close_tolerance(dtype: torch.dtype) -> float:
    """Relative tolerance (of a tensor's scale) for two computations of the same quantity by
    different kernels / batch shapes: a few ulps of the dtype, accumulated over 2–3 blocks."""
    return {torch.float32: 1e-4, torch.bfloat16: 4e-2, torch.float16: 1e-2}[dtype]


def assert_close_scaled(actual: torch.Tensor, expected: torch.Tensor, dtype: torch.dtype) -> None:
    """|actual − expected| ≤ tol(dtype) · max|expected| elementwise (compared in float32 on CPU)."""
    actual = actual.detach().float().cpu()
    expected = expected.detach().float().cpu()
    assert actual.shape == expected.shape
    assert torch.isfinite(actual).all() and torch.isfinite(expected).all()
    scale = expected.abs().max().clamp_min(1e-6)
    err = (actual - expected).abs().max()
    assert err <= close_tolerance(dtype) * scale, (
        f"max abs error {err:.3g} > {close_tolerance(dtype)} × scale {scale:.3g} ({dtype})"
    )


def assert_on_device(
    module: torch.nn.Module, device: str, dtype: torch.dtype | None = None
) -> None:
    """Every parameter and buffer of `module` is on `device` (and floating ones in `dtype`)."""
    for name, tensor in [*module.named_parameters(), *module.named_buffers()]:
        assert tensor.device.type == device, f"{name} on {tensor.device}, expected {device}"
        if dtype is not None and tensor.is_floating_point() and "lora_" not in name:
            # rotary inv_freq buffers stay float32 by design
            if "inv_freq" in name:
                continue
            assert tensor.dtype == dtype, f"{name} is {tensor.dtype}, expected {dtype}"
