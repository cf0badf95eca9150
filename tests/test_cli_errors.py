"""`welfare <stage>` on malformed inputs: a non-zero exit and one line on stderr that names the
file (or name) at fault, before any long work; `-v` keeps the traceback (welfare/cli.py `main`).

Each case damages one input of an otherwise runnable command (a tiny model, a small env set,
synthetic activation stores, a vectors file that fits the model).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from welfare.cli import main
from welfare.config import REPO_ROOT

HIDDEN, LAYERS = 32, 2


@dataclass
class Inputs:
    root: Path
    params: list[str]
    model: Path
    env: Path  # data/env/office
    trained: Path
    naive: Path
    vectors: Path
    corpus: Path


def _vectors(path: Path, layers: int = LAYERS, d_model: int = HIDDEN, nan: bool = False) -> Path:
    from welfare.axis.vectors_file import vectors_dataset, write_vectors

    rng = np.random.default_rng(0)
    v = rng.standard_normal((2, layers, d_model))
    if nan:
        v[0, 0, 0] = np.nan
    u = rng.standard_normal((2, layers, d_model))
    scores = {c: {k: np.zeros(layers) for k in ("auroc", "abs_d", "overlap")} for c in "mg"}
    scores = {"mold": scores["m"], "gold": scores["g"]}
    star = {"mold": 0, "gold": layers - 1}
    return write_vectors(path, vectors_dataset(v, u, star, star, scores, scores, {}))


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Inputs:
    from welfare.axis.synthetic import SyntheticSpec, write_synthetic_store
    from welfare.model.testing import tiny_model_dir

    root = tmp_path_factory.mktemp("inputs")
    overlay = root / "cpu.yaml"
    overlay.write_text("runtime: {device: cpu, threads: 1}\nenv: {extraction: {per_class: 6}}\n")
    params = [str(REPO_ROOT / "params.yaml"), str(REPO_ROOT / "tests/workflow/tiny.yaml")]
    params.append(str(overlay))
    env = root / "data/env/office"
    argv = ["env", *_params(params), "--mapping", "office", "--out", str(env)]
    assert main([*argv, "--metrics", str(root / "balance.json")]) == 0
    spec = SyntheticSpec(n_per_class=20, n_layers=LAYERS, d_model=HIDDEN, seed=0)
    corpus = root / "corpus"
    corpus.mkdir()
    (corpus / "train.jsonl").write_text('{"genre": "arithmetic", "messages": []}\n')
    return Inputs(
        root=root,
        params=params,
        model=tiny_model_dir(root, hidden=HIDDEN, layers=LAYERS),
        env=env,
        trained=write_synthetic_store(root / "trained.zarr", spec, chunk_mb=0.01),
        naive=write_synthetic_store(root / "naive.zarr", spec, chunk_mb=0.01),
        vectors=_vectors(root / "vectors.nc"),
        corpus=corpus,
    )


def _params(files: list[str]) -> list[str]:
    return [arg for f in files for arg in ("--params", f)]


def _copy(src: Path, dest: Path) -> Path:
    if src.is_dir():
        shutil.copytree(src, dest)
    else:
        shutil.copy2(src, dest)
    return dest


# -- commands: each takes (inputs, the bad path, tmp) and runs one stage on it -----------------
def _activations(i: Inputs, *, model=None, env=None, tmp: Path) -> list[str]:
    model = model or i.model
    env = env or i.env / "extraction.parquet"
    return ["activations", *_params(i.params), "--model", str(model), "--mapping", "office",
            "--env", str(env), "--out", str(tmp / "out.zarr")]  # fmt: skip


def _axis(i: Inputs, *, trained=None, naive=None, corpus=None, tmp: Path) -> list[str]:
    argv = ["axis", *_params(i.params), "--trained", str(trained or i.trained),
            "--naive", str(naive or i.naive), "--out", str(tmp / "v.nc"),
            "--metrics", str(tmp / "axis.json")]  # fmt: skip
    return argv + (["--corpus", str(corpus)] if corpus else [])


def _track(i: Inputs, *, vectors=None, organism="reinforce", tmp: Path) -> list[str]:
    return ["track", *_params(i.params), "--vectors", str(vectors or i.vectors),
            "--model", str(i.model), "--naive-model", str(i.model),
            "--env", str(i.env / "extraction.parquet"), "--corpus", str(tmp / "none.jsonl"),
            "--organism", organism, "--out", str(tmp / "track.json")]  # fmt: skip


# -- damage: each returns the bad path, made from a good one in tmp ----------------------------
def _model_copy(i: Inputs, tmp: Path) -> Path:
    return _copy(i.model, tmp / "model")


def _truncate(path: Path, keep: int = 40) -> Path:
    path.write_bytes(path.read_bytes()[:keep])
    return path


def _bad_model(damage: Callable[[Path], None]) -> Callable[[Inputs, Path], Path]:
    def make(i: Inputs, tmp: Path) -> Path:
        model = _model_copy(i, tmp)
        damage(model)
        return model

    return make


def _rm_tokenizer(model: Path) -> None:
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (model / name).unlink()


def _table(i: Inputs, tmp: Path, edit: Callable) -> Path:
    import pandas as pd

    out = tmp / "extraction.parquet"
    edit(pd.read_parquet(i.env / "extraction.parquet")).to_parquet(out)
    return out


def _store(which: str, damage: Callable[[Path], None]) -> Callable[[Inputs, Path], Path]:
    def make(i: Inputs, tmp: Path) -> Path:
        store = _copy(getattr(i, which), tmp / f"{which}.zarr")
        damage(store)
        return store

    return make


def _chunks(store: Path) -> list[Path]:
    return sorted(p for p in (store / "activations/c").rglob("*") if p.is_file())


def _nan_store(i: Inputs, tmp: Path) -> Path:
    import zarr

    store = _copy(i.trained, tmp / "nan.zarr")
    array = zarr.open_array(store, path="activations", mode="r+")
    array[5, 1, 3] = np.nan
    return store


def _no_record(store: Path) -> None:
    import zarr

    del zarr.open_group(store, mode="r+").attrs["written_rows"]


def _bad_text(name: str, data: bytes) -> Callable[[Inputs, Path], Path]:
    def make(i: Inputs, tmp: Path) -> Path:
        corpus = tmp / "corpus"
        corpus.mkdir()
        (corpus / name).write_bytes(data)
        return corpus / name

    return make


# (id, make the bad path, the command on it, the text the line must name: the path by default)
Case = tuple[str, Callable[[Inputs, Path], Path], Callable[..., list[str]], str | None]
ACT_MODEL = lambda i, p, tmp: _activations(i, model=p, tmp=tmp)  # noqa: E731
ACT_ENV = lambda i, p, tmp: _activations(i, env=p, tmp=tmp)  # noqa: E731
AXIS_T = lambda i, p, tmp: _axis(i, trained=p, tmp=tmp)  # noqa: E731
AXIS_N = lambda i, p, tmp: _axis(i, naive=p, tmp=tmp)  # noqa: E731
TRACK_V = lambda i, p, tmp: _track(i, vectors=p, tmp=tmp)  # noqa: E731

CASES: list[Case] = [
    # models
    ("model_no_weights", _bad_model(lambda m: (m / "model.safetensors").unlink()), ACT_MODEL, None),
    ("model_truncated", _bad_model(lambda m: _truncate(m / "model.safetensors")), ACT_MODEL, None),
    ("model_bad_config", _bad_model(lambda m: (m / "config.json").write_text("{")), ACT_MODEL,
     None),
    ("model_no_tokenizer", _bad_model(_rm_tokenizer), ACT_MODEL, None),
    ("model_missing_dir", lambda i, tmp: tmp / "absent/model", ACT_MODEL, None),
    ("model_hub_id_offline", lambda i, tmp: Path("nosuch-org/nosuch-model"), ACT_MODEL, None),
    # env tables
    ("env_truncated", lambda i, tmp: _truncate(_copy(i.env / "extraction.parquet",
                                                    tmp / "e.parquet"), 200), ACT_ENV, None),
    ("env_zero_rows", lambda i, tmp: _table(i, tmp, lambda df: df.iloc[:0]), ACT_ENV, None),
    ("env_missing_column", lambda i, tmp: _table(i, tmp, lambda df: df.drop(columns="split")),
     ACT_ENV, None),
    ("env_not_parquet", _bad_text("x.parquet", b"not a parquet file\n"), ACT_ENV, None),
    ("env_missing", lambda i, tmp: tmp / "absent.parquet", ACT_ENV, None),
    # activation stores
    ("store_missing_chunk", _store("trained", lambda s: _chunks(s)[-1].unlink()), AXIS_T, None),
    ("store_truncated_chunk", _store("trained", lambda s: _truncate(_chunks(s)[0], 8)),
     AXIS_T, None),
    ("store_nan_row", _nan_store, AXIS_T, None),
    ("store_no_metadata", _store("naive", lambda s: (s / "zarr.json").unlink()), AXIS_N, None),
    ("store_bad_metadata", _store("naive", lambda s: (s / "zarr.json").write_text("{")),
     AXIS_N, None),
    ("store_bad_array_metadata",
     _store("naive", lambda s: (s / "activations/zarr.json").write_text("[]")), AXIS_N, None),
    ("store_no_record", _store("trained", _no_record), AXIS_T, None),
    ("store_missing", lambda i, tmp: tmp / "absent.zarr", AXIS_T, None),
    # vectors files
    ("vectors_wrong_d_model", lambda i, tmp: _vectors(tmp / "v.nc", d_model=16), TRACK_V, None),
    ("vectors_too_few_layers", lambda i, tmp: _vectors(tmp / "v.nc", layers=1), TRACK_V, None),
    ("vectors_nan", lambda i, tmp: _vectors(tmp / "v.nc", nan=True), TRACK_V, None),
    ("vectors_truncated", lambda i, tmp: _truncate(_copy(i.vectors, tmp / "v.nc"), 300),
     TRACK_V, None),
    ("vectors_not_vectors", _bad_text("v.nc", b"CDF junk"), TRACK_V, None),
    ("vectors_missing", lambda i, tmp: tmp / "absent.nc", TRACK_V, None),
    # corpus files and names
    ("corpus_bad_line", _bad_text("train.jsonl", b'{"genre": "a"}\n{"genre": \n'),
     lambda i, p, tmp: ["tokenizer", *_params(i.params), "--corpus", str(p.parent),
                        "--out", str(tmp / "tok")], "train.jsonl: line 2"),
    ("corpus_not_utf8", _bad_text("train.jsonl", b'{"genre": "\xff\xfe"}\n'),
     lambda i, p, tmp: ["tokenizer", *_params(i.params), "--corpus", str(p.parent),
                        "--out", str(tmp / "tok")], None),
    ("axis_corpus_typo", lambda i, tmp: tmp / "corpsu",
     lambda i, p, tmp: _axis(i, corpus=p, tmp=tmp), None),
    ("track_unknown_organism", lambda i, tmp: Path("nosuch"),
     lambda i, p, tmp: _track(i, organism=str(p), tmp=tmp), "--organism 'nosuch'"),
    # params files
    ("params_not_utf8", _bad_text("p.yaml", b"seed: \xff\n"),
     lambda i, p, tmp: ["validate", str(p)], None),
    ("params_directory", lambda i, tmp: tmp, lambda i, p, tmp: ["validate", str(p)], None),
]  # fmt: skip


@pytest.mark.parametrize(("name", "make", "command", "names"), CASES, ids=[c[0] for c in CASES])
def test_a_malformed_input_fails_in_one_line_naming_it(
    name, make, command, names, inputs, tmp_path, capsys
) -> None:
    bad = make(inputs, tmp_path)
    capsys.readouterr()
    rc = main(command(inputs, bad, tmp_path))
    err = capsys.readouterr().err.strip()
    assert rc != 0, err
    # Log lines and progress bars aside, the error is one line.
    noise = re.compile(r" (INFO|WARNING) |\d+/\d+ \[")
    lines = [line for line in err.splitlines() if not noise.search(line)]
    assert len(lines) == 1, err
    assert lines[0].startswith("error: "), err
    assert (names or str(bad)) in lines[0], err


def test_there_are_at_least_25_cases() -> None:
    assert len(CASES) >= 25


def test_verbose_keeps_the_traceback(inputs: Inputs, tmp_path: Path) -> None:
    from welfare.activations.store import StoreError

    with pytest.raises(StoreError, match="absent.zarr"):
        main([*_axis(inputs, trained=tmp_path / "absent.zarr", tmp=tmp_path), "-v"])


def test_a_second_writer_of_a_store_fails_at_once(inputs: Inputs, tmp_path: Path, capsys) -> None:
    from welfare.io import exclusive

    out = tmp_path / "out.zarr"
    with exclusive(out):  # another `welfare activations --out` the same store is running
        assert main(_activations(inputs, tmp=tmp_path)) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith(f"error: welfare activations: {out}: another process (pid ")
    assert not out.exists() and not (tmp_path / ".out.zarr.partial").exists()
