"""Dot products of a few rows of a CSR matrix, bit for bit as scipy computes them, without scipy objects.

A live query scores ~120 candidate rows on five fields and compares its best few with each other.
The arithmetic is tiny; slicing and multiplying scipy matrices for each (object construction, format
checks, index dtype choices) cost ten times more. These kernels do the same float operations as
``matrix[rows] @ other.T``: products in the common dtype of both sides (float32 for the engine's
rows), summed in the stored order of each row of ``matrix[rows]``, so results are identical to the
scipy product, not merely close (tests compare them with ``==``). Rows are expected in canonical
form (no duplicate entries), as the index and the model's fields keep them.
"""

from __future__ import annotations

import numba
import numpy as np
import scipy.sparse as sp


def row_dots(matrix: sp.csr_matrix, rows: np.ndarray, query: sp.spmatrix | None) -> np.ndarray:
    """``(matrix[rows] @ query.T)`` as a flat array; zeros when ``query`` is None or empty."""
    rows = np.asarray(rows, dtype=np.int64)
    dtype = np.result_type(matrix.dtype, query.dtype if query is not None else matrix.dtype)
    out = np.zeros(rows.size, dtype=dtype)
    if query is None or rows.size == 0 or query.nnz == 0:
        return out
    if not (sp.issparse(query) and query.format == "csr" and query.has_canonical_format):
        query = sp.csr_matrix(query, copy=True)
        query.sum_duplicates()
    dense = np.zeros(matrix.shape[1], dtype=dtype)
    dense[query.indices] = query.data
    _row_dots(matrix.indptr, matrix.indices, matrix.data, rows, dense, out)
    return out


def row_times(query: sp.csr_matrix, matrix: sp.csr_matrix) -> np.ndarray:
    """``(query @ matrix).toarray().ravel()`` for one row ``query``: each column's sum over the query's
    entries in their stored order (the index's search: ``matrix`` is the term -> rows postings)."""
    dtype = np.result_type(query.dtype, matrix.dtype)
    out = np.zeros(matrix.shape[1], dtype=dtype)
    if query.nnz:
        _row_times(query.indices, query.data.astype(dtype, copy=False), matrix.indptr, matrix.indices,
                   matrix.data.astype(dtype, copy=False), out)
    return out


def block_dots(matrix: sp.csr_matrix, rows: np.ndarray) -> np.ndarray:
    """``(matrix[rows] @ matrix[rows].T).toarray()``: the pairwise dot products of some rows."""
    rows = np.asarray(rows, dtype=np.int64)
    out = np.zeros((rows.size, rows.size), dtype=matrix.dtype)
    if rows.size:
        _block_dots(matrix.indptr, matrix.indices, matrix.data, rows, np.zeros(matrix.shape[1], dtype=matrix.dtype),
                    out)
    return out


@numba.njit(cache=True)
def _row_dots(indptr, indices, data, rows, dense, out):  # pragma: no cover - compiled
    for i in range(rows.size):
        total = out[i]
        for j in range(indptr[rows[i]], indptr[rows[i] + 1]):
            total += data[j] * dense[indices[j]]
        out[i] = total


@numba.njit(cache=True)
def _row_times(query_indices, query_data, indptr, indices, data, out):  # pragma: no cover - compiled
    for i in range(query_indices.size):
        value, term = query_data[i], query_indices[i]
        for j in range(indptr[term], indptr[term + 1]):
            out[indices[j]] += value * data[j]


@numba.njit(cache=True)
def _block_dots(indptr, indices, data, rows, dense, out):  # pragma: no cover - compiled
    for b in range(rows.size):  # column b: scatter row b, dot every row with it, clear it again
        for j in range(indptr[rows[b]], indptr[rows[b] + 1]):
            dense[indices[j]] = data[j]
        for a in range(rows.size):
            total = out[a, b]
            for j in range(indptr[rows[a]], indptr[rows[a] + 1]):
                total += data[j] * dense[indices[j]]
            out[a, b] = total
        for j in range(indptr[rows[b]], indptr[rows[b] + 1]):
            dense[indices[j]] = 0


__all__ = ["row_dots", "row_times", "block_dots"]
