"""Neighbour expansion: each vector blended with its nearest neighbours in the archive.

Pseudo-relevance feedback as a fitted transform (Rocchio in Lucene-family engines, database-side
augmentation in image retrieval): an article's vector gains the terms its closest stories share,
so two reports of one story that word it differently still meet. The same transform applies to
stored articles (at build time, one all-pairs pass with the top-k kernel) and to a query (its
neighbours found with one search), so both sides live in the same expanded space::

    expanded(x) = normalise(x + weight * sum_j cosine(x, n_j) * n_j)    over x's ``neighbours`` n_j
"""

from __future__ import annotations

import numba
import numpy as np
import scipy.sparse as sp
from sklearn.preprocessing import normalize

NEIGHBOURS = 8
"""How many nearest neighbours each vector is blended with."""
WEIGHT = 1.0
"""How much the neighbours weigh against the vector itself (each also by its cosine)."""
MAX_TERMS = 400
"""An expanded row keeps its strongest terms, at most this many (and never fewer than its own count): the
search cost grows with the rows' lengths, and the weakest terms a neighbour brings add noise, not recall."""


def expand(rows: sp.csr_matrix, base: sp.csr_matrix, neighbours: np.ndarray, similarities: np.ndarray, *,
           weight: float = WEIGHT, max_terms: int | None = MAX_TERMS) -> sp.csr_matrix:
    """Unit rows ``normalise(rows[i] + weight * sum_j similarities[i, j] * base[neighbours[i, j]])`` (float32 CSR),
    each cut to its ``max(max_terms, nnz(rows[i]))`` strongest terms before normalising (None: no cut).

    ``neighbours`` is ``len(rows) x m`` row numbers of ``base`` (-1 for none), ``similarities`` their
    cosines with each row; a row without neighbours stays itself.
    """
    if weight < 0:
        raise ValueError(f"weight must be non-negative, got {weight}")
    neighbours = np.asarray(neighbours, dtype=np.int64).reshape(rows.shape[0], -1)
    similarities = np.asarray(similarities, dtype=np.float64).reshape(neighbours.shape)
    found = (neighbours >= 0) & (similarities > 0)
    owners = np.repeat(np.arange(neighbours.shape[0]), neighbours.shape[1])[found.ravel()]
    used, position = np.unique(neighbours[found], return_inverse=True)  # only the neighbours' rows are read
    blend = sp.csr_matrix((weight * similarities[found], (owners, position)), shape=(rows.shape[0], used.size))
    rows = sp.csr_matrix(rows, dtype=np.float64)
    total = (rows + blend @ sp.csr_matrix(base[used], dtype=np.float64)).tocsr()
    total.sort_indices()
    if max_terms is not None:
        total = strongest_terms(total, np.maximum(np.diff(rows.indptr), max_terms))
    return normalize(total).astype(np.float32)


def strongest_terms(rows: sp.csr_matrix, keep: np.ndarray) -> sp.csr_matrix:
    """Each row with only its ``keep[i]`` largest values (ties to the lower term), terms in order.

    ``rows`` must have sorted indices (``sort_indices``), so a row's stored order is its term order.
    """
    lengths = np.diff(rows.indptr)
    if (lengths <= keep).all():
        return rows
    kept = np.zeros(rows.nnz, dtype=np.bool_)
    _mark_strongest(rows.indptr.astype(np.int64), rows.data, np.asarray(keep, dtype=np.int64), kept)
    indptr = np.concatenate([[0], np.cumsum(kept)])[rows.indptr]  # kept entries before each row's start
    return sp.csr_matrix((rows.data[kept], rows.indices[kept], indptr), shape=rows.shape)


@numba.njit(cache=True)
def _mark_strongest(indptr, data, keep, kept):
    """``kept[j]`` for the ``keep[i]`` largest values of each row i (a stable sort: ties to the earlier entry)."""
    for i in range(indptr.size - 1):
        lo, hi = indptr[i], indptr[i + 1]
        if hi - lo <= keep[i]:
            kept[lo:hi] = True
            continue
        order = np.argsort(-data[lo:hi], kind="mergesort")
        for j in range(keep[i]):
            kept[lo + order[j]] = True


__all__ = ["expand", "strongest_terms", "NEIGHBOURS", "WEIGHT", "MAX_TERMS"]
