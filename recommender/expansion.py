"""Neighbour expansion: each vector blended with its nearest neighbours in the archive.

Pseudo-relevance feedback as a fitted transform (Rocchio in Lucene-family engines, database-side
augmentation in image retrieval): an article's vector gains the terms its closest stories share,
so two reports of one story that word it differently still meet. The same transform applies to
stored articles (at build time, one all-pairs pass with the top-k kernel) and to a query (its
neighbours found with one search), so both sides live in the same expanded space::

    expanded(x) = normalise(x + weight * sum_j cosine(x, n_j) * n_j)    over x's ``neighbours`` n_j
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.preprocessing import normalize

NEIGHBOURS = 5
"""How many nearest neighbours each vector is blended with."""
WEIGHT = 1.0
"""How much the neighbours weigh against the vector itself (each also by its cosine)."""


def expand(rows: sp.csr_matrix, base: sp.csr_matrix, neighbours: np.ndarray, similarities: np.ndarray, *,
           weight: float = WEIGHT) -> sp.csr_matrix:
    """Unit rows ``normalise(rows[i] + weight * sum_j similarities[i, j] * base[neighbours[i, j]])`` (float32 CSR).

    ``neighbours`` is ``len(rows) x m`` row numbers of ``base`` (-1 for none), ``similarities`` their
    cosines with each row; a row without neighbours stays itself.
    """
    if weight < 0:
        raise ValueError(f"weight must be non-negative, got {weight}")
    neighbours = np.asarray(neighbours, dtype=np.int64).reshape(rows.shape[0], -1)
    similarities = np.asarray(similarities, dtype=np.float64).reshape(neighbours.shape)
    found = (neighbours >= 0) & (similarities > 0)
    owners = np.repeat(np.arange(neighbours.shape[0]), neighbours.shape[1])[found.ravel()]
    blend = sp.csr_matrix((weight * similarities[found], (owners, neighbours[found])),
                          shape=(rows.shape[0], base.shape[0]))
    total = sp.csr_matrix(rows, dtype=np.float64) + blend @ sp.csr_matrix(base, dtype=np.float64)
    return normalize(total.tocsr()).astype(np.float32)


__all__ = ["expand", "NEIGHBOURS", "WEIGHT"]
