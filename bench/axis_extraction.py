"""Out-of-core vector extraction over a paper-size activation store.

    python bench/axis_extraction.py write  --store /tmp/paper.zarr      # synthetic store
    python bench/axis_extraction.py read   --store /tmp/paper.zarr      # one full read
    python bench/axis_extraction.py extract --store /tmp/paper.zarr     # v + held-out scores + ℓ*
    python bench/axis_extraction.py extract --store /tmp/paper.zarr --permutations 200 \
        --bootstrap 200

Each phase runs in its own process and prints its wall and CPU time and its own peak RSS
(ru_maxrss), so the numbers of one phase never include another's memory.
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("phase", choices=["write", "read", "extract"])
    ap.add_argument("--store", type=Path, required=True)
    ap.add_argument("--n-per-class", type=int, default=5000)
    ap.add_argument("--layers", type=int, default=36)
    ap.add_argument("--d-model", type=int, default=2560)
    ap.add_argument("--permutations", type=int, default=0)
    ap.add_argument("--bootstrap", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()

    # Imports first: the timed region is the work, not the interpreter warming up.
    import dask
    import numpy as np

    from welfare.activations.store import open_activations
    from welfare.axis.geometry import summarise_pass
    from welfare.axis.passes import run_store_pass
    from welfare.axis.synthetic import SyntheticSpec, write_synthetic_store

    start, cpu = time.perf_counter(), time.process_time()
    if args.phase == "write":
        spec = SyntheticSpec(
            n_per_class=args.n_per_class,
            n_layers=args.layers,
            d_model=args.d_model,
            signal_layers=tuple(range(args.layers // 2, 5 * args.layers // 6)),
            strength=0.5,
            anisotropy=4.0,
            n_shared_directions=4,
            heldout_fraction=0.2,
            dtype="float16",
            seed=0,
        )
        write_synthetic_store(args.store, spec, chunk_mb=4.0, layers_per_chunk=4)
        detail = f"{spec}"
    elif args.phase == "read":
        data = open_activations(args.store).activations.data
        with dask.config.set(scheduler="threads", num_workers=args.workers):
            # Decompress every chunk, cast to float32 as the pass does, keep one number per chunk.
            total = data.astype(np.float32).sum(axis=(1, 2)).sum().compute()
        detail = (
            f"sum={float(total):.3g}; {data.nbytes / 2**30:.2f} GiB raw, chunks {data.chunksize}"
        )
    else:
        result = run_store_pass(
            args.store,
            baseline="one_vs_rest",
            n_permutations=args.permutations,
            n_bootstrap=args.bootstrap,
            seed=0,
            num_workers=args.workers,
        )
        summary = summarise_pass(
            result, baseline="one_vs_rest", alpha=0.05, n_bootstrap_auroc=0, seed=0, bins=50
        )
        detail = (
            f"layer_star={summary['layer_star']} significant="
            f"{summary['layers']['significant']} min_cos={summary['cos']['min']['value']:.3f}"
            f" permutations={args.permutations} bootstrap={args.bootstrap}"
        )
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    print(
        f"{args.phase}: wall {wall:.1f} s, cpu {cpu:.1f} s, peak RSS {peak_rss_mb():.0f} MB;",
        detail,
    )


if __name__ == "__main__":
    main()
