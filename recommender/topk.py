"""Exact cosine top-k over L2-normalised sparse rows, in row blocks (never a dense N x N)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import scipy.sparse as sp

DEFAULT_BLOCK_BYTES = 256 * 2**20


class Neighbours(NamedTuple):
    """Row indices and scores of the k best rows per query, best first.

    Only positive scores count (a row sharing no term is no neighbour); ties are
    broken by the lower row index. Missing places hold index -1 and score -inf.
    """

    indices: np.ndarray  # (n_queries, k) int64
    scores: np.ndarray  # (n_queries, k) float32


def block_rows(n_rows: int, block_bytes: int = DEFAULT_BLOCK_BYTES) -> int:
    """Queries per block so that one dense block of scores (rows x n_rows float32) fits block_bytes."""
    return max(1, min(4096, block_bytes // max(1, 4 * n_rows)))


def top_k(queries: sp.csr_matrix, rows: sp.csr_matrix, k: int, *, exclude: np.ndarray | None = None,
          mask: np.ndarray | None = None, block_bytes: int = DEFAULT_BLOCK_BYTES) -> Neighbours:
    """Exact top-k rows of ``rows`` by dot product with each query row.

    ``exclude[i]`` is a row index never returned for query i (-1 for none), e.g. the query itself;
    ``mask`` is a boolean array over rows, False rows are never returned.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    queries = sp.csr_matrix(queries, dtype=np.float32)
    postings = sp.csr_matrix(rows, dtype=np.float32).T.tocsr()
    n_queries, n_rows = queries.shape[0], postings.shape[1]
    indices = np.full((n_queries, k), -1, dtype=np.int64)
    scores = np.full((n_queries, k), -np.inf, dtype=np.float32)
    step = block_rows(n_rows, block_bytes)
    for start in range(0, n_queries, step):
        stop = min(n_queries, start + step)
        block = (queries[start:stop] @ postings).toarray()
        if mask is not None:
            block[:, ~mask] = -np.inf
        if exclude is not None:
            local = np.flatnonzero(exclude[start:stop] >= 0)
            block[local, exclude[start:stop][local]] = -np.inf
        indices[start:stop], scores[start:stop] = _best_of_block(block, k)
    return Neighbours(indices, scores)


def all_pairs_top_k(rows: sp.csr_matrix, k: int, *, block_bytes: int = DEFAULT_BLOCK_BYTES) -> Neighbours:
    """Top-k neighbours of every row among the other rows."""
    return top_k(rows, rows, k, exclude=np.arange(rows.shape[0]), block_bytes=block_bytes)


def _best_of_block(block: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Best k columns per row of a dense block: score descending, then column ascending."""
    n, m = block.shape
    take = min(k, m)
    if take < m:
        # keep every column tied with the k-th score so the tie-break by index stays exact
        kth = -np.partition(-block, take - 1, axis=1)[:, take - 1 : take]
        candidate_rows, candidate_cols = np.nonzero((block >= kth) & (block > 0))
    else:
        candidate_rows, candidate_cols = np.nonzero(block > 0)
    candidate_scores = block[candidate_rows, candidate_cols]
    order = np.lexsort((candidate_cols, -candidate_scores, candidate_rows))
    candidate_rows, candidate_cols = candidate_rows[order], candidate_cols[order]
    starts = np.searchsorted(candidate_rows, np.arange(n))
    rank = np.arange(candidate_rows.size) - starts[candidate_rows]
    keep = rank < k
    indices = np.full((n, k), -1, dtype=np.int64)
    scores = np.full((n, k), -np.inf, dtype=np.float32)
    indices[candidate_rows[keep], rank[keep]] = candidate_cols[keep]
    scores[candidate_rows[keep], rank[keep]] = block[candidate_rows[keep], candidate_cols[keep]]
    return indices, scores
