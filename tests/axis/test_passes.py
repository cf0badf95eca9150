"""The out-of-core pass equals the same algebra done in memory."""

from __future__ import annotations

import numpy as np

from welfare.activations.store import ActivationStoreWriter, StoreLayout, open_activations
from welfare.axis.passes import class_labels, run_store_pass
from welfare.axis.synthetic import SyntheticSpec, write_synthetic_store
from welfare.axis.vectors import cosine


def test_pass_matches_in_memory_computation(tmp_path):
    spec = SyntheticSpec(
        n_per_class=40,
        n_layers=5,
        d_model=16,
        signal_layers=(2,),
        strength=2.0,
        anisotropy=2.0,
        seed=7,
    )
    store = write_synthetic_store(tmp_path / "a.zarr", spec, chunk_mb=0.005, layers_per_chunk=2)
    ds = open_activations(store)
    assert len(ds.activations.data.chunks[0]) > 2 and len(ds.activations.data.chunks[1]) == 3
    result = run_store_pass(
        store, baseline="one_vs_rest", n_permutations=3, n_bootstrap=2, seed=0, progress=False
    )
    x = ds.activations.values.astype(np.float64)
    labels = class_labels(ds.final_tile.values)
    train = np.array([str(s) == "train" for s in ds.split.values])
    xt, lt = x[train], labels[train]
    v_mold = xt[lt == 0].mean(0) - xt[lt != 0].mean(0)
    v_gold = xt[lt == 1].mean(0) - xt[lt != 1].mean(0)
    np.testing.assert_allclose(result.vectors[0], v_mold, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(result.vectors[1], v_gold, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(
        result.resample_cos["one_vs_rest"][0], cosine(v_mold, v_gold), atol=1e-5
    )
    v_path_ref = xt[lt == 0].mean(0) - xt[lt == 2].mean(0)
    g_path_ref = xt[lt == 1].mean(0) - xt[lt == 2].mean(0)
    np.testing.assert_allclose(
        result.resample_cos["path_reference"][0], cosine(v_path_ref, g_path_ref), atol=1e-5
    )
    xh = x[~train]
    proj = np.einsum("nld,ld->nl", xh, v_gold) / np.linalg.norm(v_gold, axis=-1)
    np.testing.assert_allclose(result.heldout_projection[:, 1], proj, rtol=1e-4, atol=1e-4)
    cos = proj / np.linalg.norm(xh, axis=-1)
    np.testing.assert_allclose(result.heldout_cosine[:, 1], cos, rtol=1e-4, atol=1e-5)
    # Permuted resamples differ from the observed one; the pass is deterministic in its seed.
    assert not np.allclose(
        result.resample_cos["one_vs_rest"][1], result.resample_cos["one_vs_rest"][0]
    )
    again = run_store_pass(
        store, baseline="one_vs_rest", n_permutations=3, n_bootstrap=2, seed=0, progress=False
    )
    np.testing.assert_array_equal(
        again.resample_cos["one_vs_rest"], result.resample_cos["one_vs_rest"]
    )


def test_a_position_of_a_two_position_store_reads_as_a_one_position_store(tmp_path):
    """Same activations, same chunks along samples: the same numbers to the last bit, whether the
    decision token was recorded beside the letter or not."""
    two = ("letter", "decision")
    spec = SyntheticSpec(n_per_class=40, n_layers=4, d_model=16, seed=3, positions=two)
    both = write_synthetic_store(tmp_path / "both.zarr", spec, chunk_mb=0.004, layers_per_chunk=2)
    ds = open_activations(both)
    letter = ds.activations.sel(position="letter").values
    coords = {k: ds[k].values for k in ("trajectory_id", "n_steps")}
    for k in ("final_tile", "split"):
        coords[k] = np.array([str(x) for x in ds[k].values], dtype=object)
    layout = StoreLayout(n_samples=len(letter), n_layers=4, d_model=16, dtype="float32")
    with ActivationStoreWriter(
        tmp_path / "letter.zarr", layout, coords, {}, chunk_mb=0.004, layers_per_chunk=2
    ) as writer:
        writer.write(letter)
    alone = open_activations(tmp_path / "letter.zarr")
    assert alone.activations.data.chunks == ds.activations.sel(position="letter").data.chunks
    kwargs = dict(baseline="one_vs_rest", n_permutations=5, n_bootstrap=5, seed=0, progress=False)
    a = run_store_pass(both, position="letter", **kwargs)
    b = run_store_pass(tmp_path / "letter.zarr", **kwargs)
    for name in ("one_vs_rest", "path_reference"):
        np.testing.assert_array_equal(a.resample_cos[name], b.resample_cos[name])
    np.testing.assert_array_equal(a.vectors, b.vectors)
    np.testing.assert_array_equal(a.heldout_projection, b.heldout_projection)
    d = run_store_pass(both, position="decision", **kwargs)
    assert not np.allclose(d.vectors, a.vectors)
