"""Reward concept vectors v (trained) and u (maze-naive), the steering layer ℓ*, and the
geometry of docs/protocol.md §3 and §4.2–4.5, every cosine beside its permutation null, bootstrap CI
and held-out AUROC. See docs/axis.md.

Public API::

    load_vectors(path) -> xarray.Dataset      # vectors/{organism}.nc
"""

from welfare.axis.vectors_file import load_vectors

__all__ = ["load_vectors"]
