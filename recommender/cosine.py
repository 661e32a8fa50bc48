"""Every cosine of the engine: dot products of L2-normalised sparse rows (TF-IDF), in one module.

* :func:`top_k` - the exact top-k kernel: candidates for a block of queries (batch scoring, a live
  query as a block of one, neighbour expansion, the baselines' all-pairs pass);
* :func:`row_dots` - a few rows against one query (features, pins, copies), bit for bit as the kernel;
* :func:`block_dots` - the pairwise dot products of a few rows (near-copy collapse, diversity).

The top-k kernel, never a dense N x N:

The kernel (compiled with numba, run on all cores over chunks of queries) is the textbook
term-at-a-time product with a dense accumulator, done without any of the overheads of a general
sparse product:

1. The rows are cut into tiles of ``tile_rows`` consecutive rows (one tile up to that size). For one
   query q and one tile, every posting of every term of q that falls in the tile is added into a
   float64 accumulator over the tile's rows: ``acc[j] = sum_t q_t * x_jt``. Nothing is skipped, so
   ``acc`` holds every score exactly (up to float64 rounding of a sum of float32 products, about
   1e-16 relative). Tiles keep the accumulator in the core's L2 cache however many rows there are:
   at a million rows an untiled one (8 MB) made every update a cache miss, 3.6x slower.
2. One ascending scan over the tile's rows updates a k-list ordered by (score desc, row asc). A row
   enters only if its score is positive and strictly above the k-th score held (or the list is not
   full); since tiles and the rows within them arrive in ascending order, a later row with a score
   equal to one held never displaces it, which is exactly the tie-break by lower row index.
   Excluded and masked rows never enter.
3. The accumulator is zeroed for the next tile.

Why it is faster than a chunked scipy product or ``sparse_dot_topn``: no sparse result is built
(no index arrays, no sort, no linked list of touched columns), the accumulator of one thread stays
in cache, the selection is one branchy but mostly predictable pass, and the threads share nothing
but the read-only postings.

Exactness is by construction (every score is computed, every row is looked at); the tests compare
with a dense float64 brute force, ties included, for one tile and for many. Rows with bit-identical
contents get bit-identical scores (same terms, same order), so duplicate rows tie exactly and the
lower index wins.

Memory, in bytes: the postings of ``rows`` (its transpose in csr) ``8 * nnz(rows) + 8 * n_terms``;
the tile boundaries ``8 * n_terms * (n_tiles + 1)``; per thread ``8 * tile_rows + 16 * k``; the
result ``16 * k * n_queries``; a block of queries at a time is converted, ``block_rows(...)``
queries within ``block_bytes``.
"""

from __future__ import annotations

import threading
from typing import NamedTuple

import numba
import numpy as np
import scipy.sparse as sp

DEFAULT_BLOCK_BYTES = 256 * 2**20
DEFAULT_TILE_ROWS = 2**17
"""Rows per tile: a 1 MiB float64 accumulator, well inside a 2-4 MiB L2 beside the streamed postings."""


class Neighbours(NamedTuple):
    """Row indices and scores of the k best rows per query, best first.

    Only positive scores count (a row sharing no term is no neighbour); ties are
    broken by the lower row index. Missing places hold index -1 and score -inf.
    """

    indices: np.ndarray  # (n_queries, k) int64
    scores: np.ndarray  # (n_queries, k) float32


def block_rows(n_rows: int, block_bytes: int = DEFAULT_BLOCK_BYTES, row_bytes: int = 4096) -> int:
    """Queries per block so that a block of queries (about ``row_bytes`` each) fits block_bytes.

    The working set of the kernel does not grow with the block (see the module docstring), so
    ``n_rows`` only matters through the per-thread accumulator, which is allocated once per chunk.
    """
    del n_rows
    return max(1, block_bytes // max(1, row_bytes))


def _as_rows(name: str, matrix) -> sp.csr_matrix:
    matrix = sp.csr_matrix(matrix, dtype=np.float32)
    if matrix.nnz and not np.all(np.isfinite(matrix.data)):
        raise ValueError(f"{name} must hold finite values")
    matrix = matrix.copy()
    matrix.sum_duplicates()
    return matrix


class Postings(NamedTuple):
    """Rows to search, inverted once (term -> ascending rows) and cut into tiles; reused by every ``top_k`` call."""

    tiles: np.ndarray  # (n_terms, n_tiles + 1) int64: where each term's postings enter each tile, then their end
    rows: np.ndarray  # (nnz,) int32 row of each posting
    values: np.ndarray  # (nnz,) float32
    n_rows: int
    tile_rows: int

    @property
    def n_terms(self) -> int:
        return self.tiles.shape[0]


def postings(rows: sp.csr_matrix, *, tile_rows: int = DEFAULT_TILE_ROWS) -> Postings:
    """The postings ``top_k`` searches, from row vectors (L2-normalised for cosine)."""
    rows = _as_rows("rows", rows)
    return term_postings(rows.T.tocsr(), rows.shape[0], tile_rows=tile_rows)


def term_postings(by_term: sp.csr_matrix, n_rows: int, *, tile_rows: int = DEFAULT_TILE_ROWS) -> Postings:
    """The postings from an already inverted matrix (terms x rows, e.g. ``index.inverted_postings``), sharing its
    arrays."""
    if tile_rows < 1:
        raise ValueError(f"tile_rows must be at least 1, got {tile_rows}")
    if by_term.shape[1] != n_rows:
        raise ValueError(f"the inverted matrix has {by_term.shape[1]} columns for {n_rows} rows")
    if not by_term.has_sorted_indices:
        by_term = by_term.sorted_indices()  # each term's rows ascending: tiles are ranges of its postings
    tile_rows = max(1, min(int(tile_rows), n_rows))
    indptr = by_term.indptr.astype(np.int64, copy=False)
    rows = by_term.indices.astype(np.int32, copy=False)
    tiles = _tile_pointers(indptr, rows, tile_rows, -(-n_rows // tile_rows))
    return Postings(tiles, rows, by_term.data.astype(np.float32, copy=False), n_rows, tile_rows)


def top_k(queries: sp.csr_matrix | Row, rows: sp.csr_matrix | Postings, k: int, *, exclude: np.ndarray | None = None,
          mask: np.ndarray | None = None, block_bytes: int = DEFAULT_BLOCK_BYTES,
          n_threads: int | None = None) -> Neighbours:
    """Exact top-k rows of ``rows`` by dot product with each query row.

    ``queries`` is a matrix or one :class:`Row` (a live query); ``rows`` is a matrix or, to search the same
    rows many times, their ``postings(rows)``.
    ``exclude[i]`` is a row index never returned for query i (-1 for none), e.g. the query itself;
    ``mask`` is a boolean array over rows, False rows are never returned. ``n_threads`` defaults to
    numba's default (all cores; ``NUMBA_NUM_THREADS`` caps it).
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    if isinstance(queries, Row):  # a live query: its arrays as they are, canonical by construction
        if not np.all(np.isfinite(queries.data)):
            raise ValueError("queries must hold finite values")
        q_indptr, q_indices, q_data = np.asarray([0, queries.nnz], dtype=np.int64), queries.indices, queries.data
        n_queries, width = 1, queries.width
    else:
        matrix = _as_rows("queries", queries)
        q_indptr, q_indices, q_data = matrix.indptr.astype(np.int64), matrix.indices, matrix.data
        n_queries, width = matrix.shape
    index = rows if isinstance(rows, Postings) else postings(rows)
    if width != index.n_terms:
        raise ValueError(f"queries have {width} columns, rows have {index.n_terms}")
    n_rows = index.n_rows
    exclude = np.full(n_queries, -1, dtype=np.int64) if exclude is None else np.asarray(exclude, dtype=np.int64)
    if exclude.shape != (n_queries,):
        raise ValueError(f"exclude must have shape ({n_queries},), got {exclude.shape}")
    valid = np.ones(n_rows, dtype=np.bool_) if mask is None else np.asarray(mask, dtype=np.bool_)
    if valid.shape != (n_rows,):
        raise ValueError(f"mask must have shape ({n_rows},), got {valid.shape}")
    indices = np.full((n_queries, k), -1, dtype=np.int64)
    scores = np.full((n_queries, k), -np.inf, dtype=np.float32)
    if n_queries == 0 or n_rows == 0:
        return Neighbours(indices, scores)
    max_threads = numba.config.NUMBA_NUM_THREADS  # type: ignore[attr-defined]  # set from the environment at import
    threads = max_threads if n_threads is None else max(1, min(int(n_threads), max_threads))
    step = block_rows(n_rows, block_bytes, row_bytes=8 * max(1, q_indices.size // n_queries) + 16 * k)
    blocks = [(start, min(n_queries, start + step)) for start in range(0, n_queries, step)]
    if threads == 1:  # no parallel region to enter, so no thread count to set
        for start, stop in blocks:
            _run_block(_serial_kernel, q_indptr, q_indices, q_data, index, exclude, valid, k, indices, scores,
                       start, stop, 1)
        return Neighbours(indices, scores)
    previous = numba.get_num_threads()
    numba.set_num_threads(threads)
    try:
        for start, stop in blocks:
            _run_block(_kernel, q_indptr, q_indices, q_data, index, exclude, valid, k, indices, scores,
                       start, stop, min(stop - start, 16 * threads))
    finally:
        numba.set_num_threads(previous)
    return Neighbours(indices, scores)


def _run_block(kernel, q_indptr, q_indices, q_data, index: Postings, exclude, valid, k, indices, scores,
               start: int, stop: int, n_chunks: int) -> None:
    """Queries ``start:stop`` through ``kernel``, into their rows of ``indices`` and ``scores``."""
    first, last = q_indptr[start], q_indptr[stop]
    kernel(q_indptr[start:stop + 1] - first, q_indices[first:last].astype(np.int32, copy=False),
           q_data[first:last].astype(np.float32, copy=False), index.tiles, index.rows, index.values,
           index.tile_rows, index.n_rows, exclude[start:stop], valid, k, indices[start:stop], scores[start:stop],
           n_chunks)


def all_pairs_top_k(rows: sp.csr_matrix, k: int, *, block_bytes: int = DEFAULT_BLOCK_BYTES,
                    n_threads: int | None = None, tile_rows: int = DEFAULT_TILE_ROWS) -> Neighbours:
    """Top-k neighbours of every row among the other rows."""
    return top_k(rows, postings(rows, tile_rows=tile_rows), k, exclude=np.arange(rows.shape[0]),
                 block_bytes=block_bytes, n_threads=n_threads)


@numba.njit(cache=True)
def _tile_pointers(p_indptr, p_rows, tile_rows, n_tiles):
    """``tiles[t, b]``: where term t's postings (sorted by row) reach rows of tile b; ``tiles[t, n_tiles]`` is the
    end."""
    n_terms = p_indptr.size - 1
    tiles = np.empty((n_terms, n_tiles + 1), dtype=np.int64)
    for t in range(n_terms):
        e = p_indptr[t]
        for b in range(n_tiles):
            tiles[t, b] = e
            end = (b + 1) * tile_rows
            while e < p_indptr[t + 1] and p_rows[e] < end:
                e += 1
        tiles[t, n_tiles] = p_indptr[t + 1]
    return tiles


@numba.njit(parallel=True, cache=True)
def _kernel(q_indptr, q_indices, q_data, tiles, p_rows, p_data, tile_rows, n_rows, exclude, valid, k,
            out_j, out_s, n_chunks):
    n_queries = q_indptr.size - 1
    n_tiles = tiles.shape[1] - 1
    for chunk in numba.prange(n_chunks):
        acc = np.zeros(tile_rows, dtype=np.float64)
        best_j = np.empty(k, dtype=np.int64)
        best_s = np.empty(k, dtype=np.float64)
        for i in range(chunk * n_queries // n_chunks, (chunk + 1) * n_queries // n_chunks):
            if q_indptr[i] == q_indptr[i + 1]:
                continue
            ex = exclude[i]
            count = 0
            last = 0.0  # a row must beat this strictly: positive, and above the k-th once full
            for b in range(n_tiles):
                low = b * tile_rows
                for p in range(q_indptr[i], q_indptr[i + 1]):
                    t = q_indices[p]
                    w = np.float64(q_data[p])
                    for e in range(tiles[t, b], tiles[t, b + 1]):
                        acc[p_rows[e] - low] += w * p_data[e]
                for j in range(low, min(n_rows, low + tile_rows)):
                    s = acc[j - low]
                    if s > last and valid[j] and j != ex:
                        pos = count if count < k else k - 1
                        count = min(count + 1, k)
                        while pos > 0 and best_s[pos - 1] < s:  # equal scores keep the lower row first
                            best_s[pos] = best_s[pos - 1]
                            best_j[pos] = best_j[pos - 1]
                            pos -= 1
                        best_s[pos] = s
                        best_j[pos] = j
                        if count == k:
                            last = best_s[k - 1]
                acc[:] = 0.0
            for b in range(count):
                out_j[i, b] = best_j[b]
                out_s[i, b] = best_s[b]


# -- a few rows: the kernel's arithmetic, without scipy objects ---------------------------------
# A live query scores ~120 candidate rows on a few fields and compares its best few with each other.
# The arithmetic is tiny; slicing and multiplying scipy matrices for each (object construction, format
# checks, index dtype choices) cost ten times more. These kernels do the float operations of the top-k
# kernel: float64 products of the stored values, summed in term order, rounded once to the inputs' common
# dtype. A row's score here therefore equals its score from ``top_k`` bit for bit, and equals scipy's
# product of the rows cast to float64 (tests compare them with ``==``). Rows are expected in canonical
# form (no duplicate entries), as the index and the model's fields keep them.


class Row(NamedTuple):
    """One sparse row as its arrays (terms ascending, no duplicates): what a query carries, so that a live
    ranking builds no scipy object for its rows (one costs more than the arithmetic of a candidate block)."""

    indices: np.ndarray  # int32 terms, ascending
    data: np.ndarray  # their weights
    width: int  # number of terms in the vocabulary

    @property
    def nnz(self) -> int:
        return int(self.indices.size)

    @classmethod
    def of(cls, matrix: sp.csr_matrix, row: int) -> Row:
        """Row ``row`` of a canonical CSR matrix (the index's and the model's are), sharing its arrays."""
        start, stop = matrix.indptr[row], matrix.indptr[row + 1]
        return cls(matrix.indices[start:stop], matrix.data[start:stop], matrix.shape[1])

    @classmethod
    def from_sparse(cls, matrix: sp.spmatrix) -> Row:
        """The one row of a 1 x n sparse matrix (e.g. a vectorizer's output), in canonical form."""
        if matrix.shape[0] != 1:
            raise ValueError(f"a row must be 1 x n, got {matrix.shape}")
        matrix = sp.csr_matrix(matrix, copy=True)
        matrix.sum_duplicates()
        return cls(matrix.indices.astype(np.int32, copy=False), matrix.data, matrix.shape[1])

    def csr(self) -> sp.csr_matrix:
        """The row as a 1 x n CSR matrix sharing its arrays."""
        return sp.csr_matrix((self.data, self.indices, np.asarray([0, self.nnz], dtype=np.int64)),
                             shape=(1, self.width))


def as_row(query: Row | sp.spmatrix) -> Row:
    """A query row as a :class:`Row` (a 1 x n sparse matrix converted)."""
    return query if isinstance(query, Row) else Row.from_sparse(query)


def row_dots(matrix: sp.csr_matrix, rows: np.ndarray, query: Row | sp.spmatrix | None) -> np.ndarray:
    """``(matrix[rows] @ query.T)`` as a flat array; zeros when ``query`` is None or empty."""
    rows = np.asarray(rows, dtype=np.int64)
    query = None if query is None else as_row(query)
    dtype = np.result_type(matrix.dtype, matrix.dtype if query is None else query.data.dtype)
    out = np.zeros(rows.size, dtype=dtype)
    if query is None or rows.size == 0 or query.nnz == 0:
        return out
    dense = _scratch(matrix.shape[1])
    dense[query.indices] = query.data
    total = np.zeros(rows.size)
    try:
        _row_dots(matrix.indptr, matrix.indices, matrix.data, rows, dense, total)
    finally:
        dense[query.indices] = 0
    return total.astype(dtype, copy=False)


_scratches = threading.local()


def _scratch(size: int) -> np.ndarray:
    """An all-zero float64 vector of ``size`` for this thread, reused across calls (callers leave it all zero)."""
    vectors = _scratches.__dict__.setdefault("vectors", {})
    if size not in vectors:
        vectors[size] = np.zeros(size)
    return vectors[size]


def block_dots(matrix: sp.csr_matrix, rows: np.ndarray, *, lower: bool = False) -> np.ndarray:
    """``(matrix[rows] @ matrix[rows].T).toarray()``: the pairwise dot products of some rows; ``lower``: only
    below the diagonal (each row against the rows before it), zeros elsewhere."""
    rows = np.asarray(rows, dtype=np.int64)
    out = np.zeros((rows.size, rows.size))
    if rows.size:
        _block_dots(matrix.indptr, matrix.indices, matrix.data, rows, _scratch(matrix.shape[1]), out, lower)
    return out.astype(matrix.dtype, copy=False)


def strongest_shared_terms(query: Row, matrix: sp.csr_matrix, rows: np.ndarray, n: int) -> np.ndarray:
    """For each of ``rows``, the ``n`` terms whose products with the query add most to its dot product: term
    ids, strongest first, the lower term first on ties, -1 where fewer are shared. The products are in the
    dtype numpy gives the row's weight times the query's (as ``query.multiply(row)``)."""
    rows = np.asarray(rows, dtype=np.int64)
    out = np.full((rows.size, n), -1, dtype=np.int64)
    if query.nnz and rows.size and n > 0:
        _strongest_shared(query.indices, query.data, matrix.indptr, matrix.indices, matrix.data, rows, out)
    return out


_serial_kernel = numba.njit(cache=True)(_kernel.py_func)
"""The same kernel compiled without threads, for a block run on one (a live query)."""


@numba.njit(cache=True)
def _row_dots(indptr, indices, data, rows, dense, out):  # pragma: no cover - compiled
    for i in range(rows.size):
        total = out[i]
        for j in range(indptr[rows[i]], indptr[rows[i] + 1]):
            total += np.float64(data[j]) * dense[indices[j]]
        out[i] = total


@numba.njit(cache=True)
def _block_dots(indptr, indices, data, rows, dense, out, lower):  # pragma: no cover - compiled
    for b in range(rows.size):  # column b: scatter row b, dot every row (below it) with it, clear it again
        for j in range(indptr[rows[b]], indptr[rows[b] + 1]):
            dense[indices[j]] = data[j]
        for a in range(b + 1 if lower else 0, rows.size):
            total = out[a, b]
            for j in range(indptr[rows[a]], indptr[rows[a] + 1]):
                total += np.float64(data[j]) * dense[indices[j]]
            out[a, b] = total
        for j in range(indptr[rows[b]], indptr[rows[b] + 1]):
            dense[indices[j]] = 0


@numba.njit(cache=True)
def _strongest_shared(q_indices, q_data, indptr, indices, data, rows, out):  # pragma: no cover - compiled
    n = out.shape[1]
    best = np.empty(n)  # the kept products, strongest first (float64 holds either input dtype exactly)
    for r in range(rows.size):
        count, a = 0, 0
        for j in range(indptr[rows[r]], indptr[rows[r] + 1]):  # both term lists ascending: one merge
            t = indices[j]
            while a < q_indices.size and q_indices[a] < t:
                a += 1
            if a == q_indices.size:
                break
            if q_indices[a] != t:
                continue
            product = data[j] * q_data[a]
            if product == 0 or (count == n and not product > best[n - 1]):
                continue  # equal products keep the lower term, seen first
            pos = count if count < n else n - 1
            count = min(count + 1, n)
            while pos > 0 and best[pos - 1] < product:
                best[pos] = best[pos - 1]
                out[r, pos] = out[r, pos - 1]
                pos -= 1
            best[pos] = product
            out[r, pos] = t


__all__ = ["Neighbours", "Postings", "postings", "term_postings", "top_k", "all_pairs_top_k", "row_dots",
           "block_dots", "strongest_shared_terms", "Row", "as_row"]
