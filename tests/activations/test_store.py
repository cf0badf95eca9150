from __future__ import annotations

import numpy as np
import pytest
import zarr

from welfare.activations.store import (
    WRITTEN,
    ActivationStoreWriter,
    StoreError,
    StoreLayout,
    blosc_codec,
    chunk_shape,
    open_activations,
    verify_store,
)


def _coords(n: int) -> dict[str, np.ndarray]:
    return {
        "trajectory_id": np.arange(100, 100 + n),
        "final_tile": np.array(
            ["mold", "gold", "path"] * (n // 3) + ["mold"] * (n % 3), dtype=object
        ),
    }


def _writer(path, data, dtype="float16", chunk_mb=0.0005):  # ~8 samples a chunk
    layout = StoreLayout(
        n_samples=len(data), n_layers=data.shape[1], d_model=data.shape[2], dtype=dtype
    )
    return ActivationStoreWriter(
        path,
        layout,
        _coords(len(data)),
        {"model": "m", "params_hash": "h"},
        chunk_mb=chunk_mb,
        layers_per_chunk=2,
        compressor=blosc_codec("zstd", 3, "bitshuffle"),
    )


@pytest.mark.parametrize("dtype", ["float16", "float32"])
def test_roundtrip_with_coords_chunks_compressor_and_attrs(tmp_path, dtype):
    rng = np.random.default_rng(0)
    data = rng.normal(size=(50, 5, 16)).astype(np.float32)
    with _writer(tmp_path / "a.zarr", data, dtype) as writer:
        for start in range(0, 50, 7):  # batch sizes unrelated to the chunk size
            writer.write(data[start : start + 7])
    ds = open_activations(tmp_path / "a.zarr")
    assert ds.activations.dims == ("sample", "layer", "d_model")
    assert ds.activations.dtype == np.dtype(dtype)
    np.testing.assert_allclose(ds.activations.values, data.astype(dtype), rtol=0, atol=0)
    assert list(ds.final_tile.values[:3]) == ["mold", "gold", "path"]
    assert ds.trajectory_id.values[-1] == 149
    assert ds.attrs["model"] == "m"
    array = zarr.open_array(tmp_path / "a.zarr", path="activations", mode="r")
    assert array.metadata.zarr_format == 3
    assert array.chunks == writer.chunks and array.chunks[1] == 2
    assert type(array.compressors[0]).__name__ == "BloscCodec"
    assert not (tmp_path / ".a.zarr.partial").exists()


def test_chunk_shape_targets_the_requested_size():
    layout = StoreLayout(n_samples=15000, n_layers=36, d_model=2560, dtype="float16")
    chunks = chunk_shape(layout, chunk_mb=4, layers_per_chunk=4)
    size_mb = np.prod(chunks) * 2 / 2**20
    assert chunks[1:] == (4, 2560) and 3 < size_mb <= 4


class _Killed(Exception):
    pass


def test_killed_run_leaves_no_complete_store_and_resumes(tmp_path):
    rng = np.random.default_rng(1)
    data = rng.normal(size=(40, 4, 16)).astype(np.float32)
    out = tmp_path / "b.zarr"
    with pytest.raises(_Killed), _writer(out, data) as writer:
        writer.write(data[:30])
        raise _Killed
    assert not out.exists()  # the final name appears only when complete
    with pytest.raises(StoreError, match="no activation store"):
        open_activations(out)
    with _writer(out, data) as writer:
        resumed_at = writer.n_done
        assert 0 < resumed_at <= 30 and resumed_at % writer.chunks[0] == 0
        writer.write(data[resumed_at:])
    np.testing.assert_array_equal(open_activations(out).activations.values, data.astype("float16"))


def test_changed_inputs_discard_a_stale_partial(tmp_path):
    data = np.ones((20, 2, 8), dtype=np.float32)
    out = tmp_path / "c.zarr"
    with pytest.raises(_Killed), _writer(out, data) as writer:
        writer.write(data)
        raise _Killed
    other = data * 2
    writer = _writer(out, other, dtype="float32")  # different dtype: different fingerprint
    with writer:
        assert writer.n_done == 0
        writer.write(other)
    assert float(open_activations(out).activations.max()) == 2.0


def test_incomplete_store_refuses_to_finish(tmp_path):
    data = np.ones((10, 2, 8), dtype=np.float32)
    with (
        pytest.raises(RuntimeError, match="stays partial"),
        _writer(tmp_path / "d.zarr", data) as w,
    ):
        w.write(data[:5])
    assert not (tmp_path / "d.zarr").exists()


def test_named_positions_roundtrip_one_position_a_chunk_and_resume(tmp_path):
    rng = np.random.default_rng(2)
    data = rng.normal(size=(30, 2, 4, 16)).astype(np.float32)
    layout = StoreLayout(
        n_samples=30, n_layers=4, d_model=16, n_positions=2, position_labels=("letter", "decision")
    )
    out = tmp_path / "p.zarr"

    def writer():
        return ActivationStoreWriter(
            out, layout, _coords(30), {"model": "m"}, chunk_mb=0.0005, layers_per_chunk=2
        )

    with pytest.raises(_Killed), writer() as w:
        w.write(data[:20])
        raise _Killed
    with writer() as w:
        assert w.n_done > 0
        w.write(data[w.n_done :])
    ds = open_activations(out)
    assert ds.activations.dims == ("sample", "position", "layer", "d_model")
    assert ds.position.values.tolist() == ["letter", "decision"]
    np.testing.assert_array_equal(ds.activations.values, data.astype("float16"))
    np.testing.assert_array_equal(
        ds.activations.sel(position="decision").values, data[:, 1].astype("float16")
    )
    # One position a chunk, as many samples as a one-position store: each position reads alone.
    single = chunk_shape(StoreLayout(30, 4, 16), chunk_mb=0.0005, layers_per_chunk=2)
    assert w.chunks == (single[0], 1, 2, 16)
    with pytest.raises(ValueError, match="position labels"):
        StoreLayout(30, 4, 16, n_positions=3, position_labels=("letter", "decision"))


def test_capture_records_letter_and_decision_from_one_forward(tmp_path, tiny_lm):
    from welfare.activations.capture import ActivationSettings, capture_to_store
    from welfare.activations.record import record_chats
    from welfare.activations.render import render_chat

    model, tokenizer = tiny_lm
    chats = [
        render_chat(
            tokenizer,
            [
                {"role": "user", "content": "Where do you move ?" + " ?" * k},
                {"role": "assistant", "content": letter},
            ],
        )
        for k, letter in enumerate("NESW")
    ]
    coords = {"trajectory_id": np.arange(4)}
    both = capture_to_store(
        model, chats, coords, tmp_path / "both.zarr", ActivationSettings(dtype="float32"), {"m": 1}
    )
    letter = capture_to_store(
        model,
        chats,
        coords,
        tmp_path / "letter.zarr",
        ActivationSettings(dtype="float32", positions=("letter",)),
        {"m": 1},
    )
    both_ds, letter_ds = open_activations(both), open_activations(letter)
    assert both_ds.activations.dims == ("sample", "position", "layer", "d_model")
    assert both_ds.position.values.tolist() == ["letter", "decision"]
    assert list(both_ds.attrs["positions"]) == ["letter", "decision"]
    # The letter is bit-identical whether or not the decision token is recorded beside it.
    np.testing.assert_array_equal(
        both_ds.activations.sel(position="letter").values,
        letter_ds.activations.sel(position="letter").values,
    )
    # Organism template: "<|assistant|>" then the letter; the span records exactly those two.
    spans = np.concatenate(
        [b.activations for b in record_chats(model, chats, position="assistant_template")]
    )
    assert spans.shape[1] == 2
    np.testing.assert_allclose(
        both_ds.activations.sel(position="decision").values, spans[:, 0], rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(
        both_ds.activations.sel(position="letter").values, spans[:, 1], rtol=1e-5, atol=1e-6
    )


def _complete_store(path, data):
    with _writer(path, data) as writer:
        writer.write(data)
    return writer


def _chunk_files(store):
    return sorted(p for p in (store / "activations" / "c").rglob("*") if p.is_file())


def test_a_complete_store_carries_its_written_rows_record(tmp_path):
    data = np.random.default_rng(2).normal(size=(30, 4, 16)).astype(np.float32)
    writer = _complete_store(tmp_path / "s.zarr", data)
    record = zarr.open_group(tmp_path / "s.zarr", mode="r").attrs[WRITTEN]
    assert record["rows"] == 30 and record["chunks"] == len(_chunk_files(tmp_path / "s.zarr"))
    assert verify_store(tmp_path / "s.zarr") == 30 and writer.n_done == 30


def _drop_a_chunk(store):
    _chunk_files(store)[1].unlink()


def _truncate_a_chunk(store):
    chunk = _chunk_files(store)[0]
    chunk.write_bytes(chunk.read_bytes()[:10])


def _drop_the_record(store):
    group = zarr.open_group(store, mode="r+")
    del group.attrs[WRITTEN]


def _drop_the_metadata(store):
    (store / "zarr.json").unlink()


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (_drop_a_chunk, "1 of .* chunks missing"),
        (_truncate_a_chunk, "rows 0-.* unreadable"),
        (_drop_the_record, "no written-rows record"),
        (_drop_the_metadata, "no activation store"),
    ],
)
def test_a_damaged_store_is_an_error_naming_it(tmp_path, damage, message):
    data = np.random.default_rng(3).normal(size=(30, 4, 16)).astype(np.float32)
    store = tmp_path / "damaged.zarr"
    _complete_store(store, data)
    damage(store)
    with pytest.raises(StoreError, match=message) as info:
        open_activations(store)
    assert str(info.value).startswith(f"{store}: ") and "\n" not in str(info.value)


def test_a_store_with_nan_rows_is_an_error_naming_the_first(tmp_path):
    data = np.random.default_rng(4).normal(size=(30, 4, 16)).astype(np.float32)
    data[17, 2, 5] = np.nan
    data[21] = np.inf
    store = tmp_path / "nan.zarr"
    _complete_store(store, data)
    with pytest.raises(StoreError, match=r"2 rows not finite \(first: sample 17\)"):
        open_activations(store)
