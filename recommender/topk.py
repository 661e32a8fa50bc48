"""Exact cosine top-k over L2-normalised, non-negative sparse rows (TF-IDF), never a dense N x N.

The kernel is term-at-a-time with a dynamic "rare terms first, bound the frequent rest" cut, in the
spirit of MaxScore and of the L2 bounds of all-pairs similarity search, compiled with numba and run
on all cores over blocks of queries.

Terms are renumbered by document frequency, most frequent first (rank 0), so in every row the
frequent terms form a prefix of its entries. For one query q (terms visited rarest first):

1. *Phase 1.* Scatter the postings of the rarer half of q's terms into a float64 accumulator
   ``acc[j]`` (a partial dot product). Take the k best valid rows by ``acc``, score them exactly:
   the k-th of those exact scores, ``theta``, is a lower bound of the true k-th best score (they
   are k real rows). With fewer than k positive candidates ``theta = 0`` (nothing may be skipped).
2. *Phase 2.* Keep visiting terms. Before visiting the term of rank ``r`` (every term still to visit
   has rank <= r), a row never touched so far can gain at most ``||q_rest|| * M(r + 1)`` where
   ``M(s) = max_j ||x_j restricted to ranks < s||`` (Cauchy-Schwarz; precomputed for all s). Once
   that is below ``theta`` no untouched row can reach the top k: stop creating candidates.
3. *Verification.* For a touched row, ``acc[j]`` is exact on the visited terms and, all values being
   non-negative, a lower bound of its score; ``acc[j] + ||q_rest|| * ||x_j, ranks < r_cut||`` is an
   upper bound (the row's prefix norm is read from stored cumulative squares). Rows whose upper
   bound is below the current threshold (``theta`` or the k-th score found so far, whichever is
   larger) are dropped; the others are completed exactly from their own prefix (a dot product with
   q's remaining terms) and compete in a k-list ordered by (score desc, row asc).

Every row left out has a proven upper bound strictly below a score that k rows reach, so the result
is the exact top k. The comparisons against bounds carry a small relative slack (1e-4, plus 1e-7)
so float rounding of the bounds can only keep extra rows, never lose one. Scores are accumulated in
float64 and returned as float32; rows with bit-identical contents get bit-identical scores (same
terms, same order), so duplicate rows tie exactly and the lower index wins.

Memory: the index holds the rows (csr), their postings and a float32 cumulative-square per entry,
about ``20 * nnz`` bytes, plus ``12 * (n_terms + 1)``; each thread has scratch of
``9 * n_rows + 4 * n_terms`` bytes; the result is ``12 * k * n_queries`` bytes. Queries are taken
``block_rows(...)`` at a time, so temporary copies of queries stay within ``block_bytes``.
"""

from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np
import scipy.sparse as sp

DEFAULT_BLOCK_BYTES = 256 * 2**20
_REL_SLACK = 1e-4
_ABS_SLACK = 1e-7
_N_CUTS = 32


class Neighbours(NamedTuple):
    """Row indices and scores of the k best rows per query, best first.

    Only positive scores count (a row sharing no term is no neighbour); ties are
    broken by the lower row index. Missing places hold index -1 and score -inf.
    """

    indices: np.ndarray  # (n_queries, k) int64
    scores: np.ndarray  # (n_queries, k) float32


def block_rows(n_rows: int, block_bytes: int = DEFAULT_BLOCK_BYTES, row_bytes: int = 4096) -> int:
    """Queries per block so that a block of queries (about ``row_bytes`` each) fits block_bytes."""
    del n_rows  # the working set no longer grows with the corpus, only with the query block
    return max(1, block_bytes // max(1, row_bytes))


class _Index(NamedTuple):
    rank: np.ndarray  # column -> rank (0 = most frequent)
    x_indptr: np.ndarray
    x_indices: np.ndarray  # ranks, ascending within a row
    x_data: np.ndarray
    x_cumsq: np.ndarray  # float32 running sum of squares within each row
    p_indptr: np.ndarray  # postings by rank
    p_indices: np.ndarray
    p_data: np.ndarray
    cuts: np.ndarray  # a few ranks, geometric, the last one n_terms
    cut_sq: np.ndarray  # [j, l] = ||x_j restricted to ranks < cuts[l]||^2, float32
    heavy_order: np.ndarray  # [l] = the rows with the largest cut_sq[:, l], largest first
    heavy_sq: np.ndarray  # [l, h] = cut_sq[heavy_order[l, h], l]


def _check_matrix(name: str, matrix) -> sp.csr_matrix:
    matrix = sp.csr_matrix(matrix, dtype=np.float32)
    if matrix.nnz and (not np.all(np.isfinite(matrix.data)) or matrix.data.min() < 0):
        raise ValueError(f"{name} must hold finite non-negative values, got min {matrix.data.min()}")
    matrix.sum_duplicates()
    return matrix


def _build_index(rows: sp.csr_matrix) -> _Index:
    n_terms = rows.shape[1]
    df = np.bincount(rows.indices, minlength=n_terms)
    rank = np.empty(n_terms, dtype=np.int32)
    rank[np.argsort(-df, kind="stable")] = np.arange(n_terms, dtype=np.int32)
    x = sp.csr_matrix((rows.data.copy(), rank[rows.indices], rows.indptr.copy()), shape=rows.shape)
    x.sort_indices()
    x_indptr = x.indptr.astype(np.int64)
    squares = x.data.astype(np.float64) ** 2
    cumsq = np.cumsum(squares)
    row_start = np.repeat(np.concatenate(([0.0], cumsq))[x_indptr[:-1]], np.diff(x_indptr))
    cumsq = (cumsq - row_start).astype(np.float32)
    cuts = np.unique(np.geomspace(4, max(4, n_terms), _N_CUTS).astype(np.int64))
    cuts[-1] = n_terms
    # an entry of rank r and running square c makes cut_sq[j, l] >= c for every cuts[l] > r
    cut_sq = np.zeros((rows.shape[0], cuts.size), dtype=np.float32)
    entry_row = np.repeat(np.arange(rows.shape[0]), np.diff(x_indptr))
    np.maximum.at(cut_sq, (entry_row, np.searchsorted(cuts, x.indices, side="right")), cumsq)
    np.maximum.accumulate(cut_sq, axis=1, out=cut_sq)
    n_heavy = min(rows.shape[0], max(1024, rows.shape[0] // 16))
    heavy_order = np.argsort(-cut_sq.T, axis=1, kind="stable")[:, :n_heavy].astype(np.int32)
    heavy_sq = np.take_along_axis(cut_sq.T, heavy_order, axis=1)
    postings = x.T.tocsr()
    return _Index(rank, x_indptr, x.indices.astype(np.int32), x.data, cumsq,
                  postings.indptr.astype(np.int64), postings.indices.astype(np.int32), postings.data,
                  cuts, cut_sq, heavy_order, heavy_sq)


def top_k(queries: sp.csr_matrix, rows: sp.csr_matrix, k: int, *, exclude: np.ndarray | None = None,
          mask: np.ndarray | None = None, block_bytes: int = DEFAULT_BLOCK_BYTES,
          n_threads: int | None = None) -> Neighbours:
    """Exact top-k rows of ``rows`` by dot product with each query row.

    ``exclude[i]`` is a row index never returned for query i (-1 for none), e.g. the query itself;
    ``mask`` is a boolean array over rows, False rows are never returned. Values must be
    non-negative (the bounds rely on it). ``n_threads`` defaults to numba's (all cores).
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    queries = _check_matrix("queries", queries)
    rows = _check_matrix("rows", rows)
    if queries.shape[1] != rows.shape[1]:
        raise ValueError(f"queries have {queries.shape[1]} columns, rows have {rows.shape[1]}")
    n_queries, n_rows = queries.shape[0], rows.shape[0]
    if exclude is None:
        exclude = np.full(n_queries, -1, dtype=np.int64)
    exclude = np.asarray(exclude, dtype=np.int64)
    if exclude.shape != (n_queries,):
        raise ValueError(f"exclude must have shape ({n_queries},), got {exclude.shape}")
    valid = np.ones(n_rows, dtype=np.bool_) if mask is None else np.asarray(mask, dtype=np.bool_)
    if valid.shape != (n_rows,):
        raise ValueError(f"mask must have shape ({n_rows},), got {valid.shape}")
    indices = np.full((n_queries, k), -1, dtype=np.int64)
    scores = np.full((n_queries, k), -np.inf, dtype=np.float32)
    if n_queries == 0 or n_rows == 0:
        return Neighbours(indices, scores)
    index = _build_index(rows)
    global STATS
    STATS = np.zeros((n_queries, 5), dtype=np.int64)
    step = block_rows(n_rows, block_bytes, row_bytes=16 * max(1, queries.nnz // n_queries) + 64 * k)
    threads = numba.get_num_threads() if n_threads is None else int(n_threads)
    previous = numba.get_num_threads()
    numba.set_num_threads(max(1, min(threads, numba.config.NUMBA_NUM_THREADS)))
    try:
        for start in range(0, n_queries, step):
            stop = min(n_queries, start + step)
            block = queries[start:stop]
            q = sp.csr_matrix((block.data.copy(), index.rank[block.indices], block.indptr.copy()),
                              shape=block.shape)
            q.sort_indices()
            _kernel(q.indptr.astype(np.int64), q.indices.astype(np.int32), q.data,
                    index.x_indptr, index.x_indices, index.x_data, index.x_cumsq,
                    index.p_indptr, index.p_indices, index.p_data,
                    index.cuts, index.cut_sq, index.heavy_order, index.heavy_sq,
                    exclude[start:stop], valid, k, indices[start:stop], scores[start:stop], STATS[start:stop])
    finally:
        numba.set_num_threads(previous)
    return Neighbours(indices, scores)


def all_pairs_top_k(rows: sp.csr_matrix, k: int, *, block_bytes: int = DEFAULT_BLOCK_BYTES,
                    n_threads: int | None = None) -> Neighbours:
    """Top-k neighbours of every row among the other rows."""
    return top_k(rows, rows, k, exclude=np.arange(rows.shape[0]), block_bytes=block_bytes,
                 n_threads=n_threads)


@numba.njit(cache=True, inline="always")
def _insert(best_j, best_s, count, k, j, s):
    """Put (s, j) into the k-list ordered by (score desc, row asc); return the new count."""
    if count == k:
        last = best_s[k - 1]
        if s < last or (s == last and j > best_j[k - 1]):
            return count
        pos = k - 1
    else:
        pos = count
        count += 1
    while pos > 0 and (best_s[pos - 1] < s or (best_s[pos - 1] == s and best_j[pos - 1] > j)):
        best_s[pos] = best_s[pos - 1]
        best_j[pos] = best_j[pos - 1]
        pos -= 1
    best_s[pos] = s
    best_j[pos] = j
    return count


@numba.njit(cache=True, inline="always")
def _below(bound, threshold):
    """True when an upper bound, with slack for its rounding, is still below the threshold."""
    return bound * (1.0 + _REL_SLACK) + _ABS_SLACK < threshold


@numba.njit(cache=True, inline="always")
def _visit(t, w, p_indptr, p_indices, p_data, acc, touched_flag, touched, n_touched):
    """Scatter one query term's postings into the accumulator; return the new touched count."""
    for e in range(p_indptr[t], p_indptr[t + 1]):
        j = p_indices[e]
        if not touched_flag[j]:
            touched_flag[j] = True
            touched[n_touched] = j
            n_touched += 1
        acc[j] += w * p_data[e]
    return n_touched


@numba.njit(cache=True, inline="always")
def _rest(j, s, cut, rest_norm, threshold, x_indptr, x_indices, x_data, x_cumsq, q_dense):
    """Complete a partial score with the row's terms of rank < cut, or -1 if the bound rules it out."""
    start = x_indptr[j]
    stop = start
    end = x_indptr[j + 1]
    while stop < end and x_indices[stop] < cut:
        stop += 1
    if stop > start and _below(s + rest_norm * np.sqrt(np.float64(x_cumsq[stop - 1])), threshold):
        return -1.0
    for e in range(start, stop):
        s += x_data[e] * q_dense[x_indices[e]]
    return s


@numba.njit(parallel=True, cache=True)
def _kernel(q_indptr, q_indices, q_data, x_indptr, x_indices, x_data, x_cumsq,
            p_indptr, p_indices, p_data, cuts, cut_sq, heavy_order, heavy_sq,
            exclude, valid, k, out_j, out_s, stats):
    n_queries = q_indptr.size - 1
    n_rows = x_indptr.size - 1
    n_terms = p_indptr.size - 1
    n_heavy = heavy_order.shape[1]
    n_chunks = min(n_queries, 16 * numba.get_num_threads())
    for chunk in numba.prange(n_chunks):
        acc = np.zeros(n_rows, dtype=np.float64)
        touched_flag = np.zeros(n_rows, dtype=np.bool_)
        touched = np.empty(n_rows, dtype=np.int32)
        q_dense = np.zeros(n_terms, dtype=np.float64)
        rest_sq = np.empty(q_indices.size + 1, dtype=np.float64)
        rest_postings = np.empty(q_indices.size + 1, dtype=np.int64)
        best_j = np.empty(k, dtype=np.int64)
        best_s = np.empty(k, dtype=np.float64)
        for i in range(chunk * n_queries // n_chunks, (chunk + 1) * n_queries // n_chunks):
            lo, hi = q_indptr[i], q_indptr[i + 1]
            if lo == hi:
                continue
            ex = exclude[i]
            rest_sq[0] = 0.0
            rest_postings[0] = 0
            for p in range(lo, hi):  # [p - lo + 1] describes q's terms lo..p
                t = q_indices[p]
                q_dense[t] = q_data[p]
                rest_sq[p - lo + 1] = rest_sq[p - lo] + np.float64(q_data[p]) ** 2
                rest_postings[p - lo + 1] = rest_postings[p - lo] + p_indptr[t + 1] - p_indptr[t]
            n_touched = 0
            p = hi - 1
            # phase 1: the rarer half of the query's terms
            while p >= lo + (hi - lo) // 2:
                n_touched = _visit(q_indices[p], np.float64(q_data[p]), p_indptr, p_indices, p_data,
                                   acc, touched_flag, touched, n_touched)
                p -= 1
            # theta: the k-th exact score among the k best rows by partial score
            count = 0
            for a in range(n_touched):
                j = touched[a]
                if valid[j] and j != ex and acc[j] > 0:
                    count = _insert(best_j, best_s, count, k, j, acc[j])
            theta = 0.0
            if count == k:
                theta = np.inf
                for b in range(k):
                    theta = min(theta, _rest(best_j[b], 0.0, n_terms, 0.0, 0.0, x_indptr, x_indices,
                                             x_data, x_cumsq, q_dense))
            # phase 2: visit terms until the untouched rows that could still reach theta are few
            # (the first n_check rows of heavy_order[stop_level]) and cheaper to check than to visit
            n_check = 0
            stop_level = 0
            while p >= lo:
                t = q_indices[p]
                if theta > 0:
                    stop_level = np.searchsorted(cuts, t + 1)
                    limit = ((theta - _ABS_SLACK) / (1.0 + _REL_SLACK)) ** 2 / rest_sq[p - lo + 1]
                    heavy = heavy_sq[stop_level]
                    a, b = 0, n_heavy  # rows heavy[:a] reach limit, heavy[b:] do not
                    while a < b:
                        mid = (a + b) // 2
                        if heavy[mid] >= limit:
                            a = mid + 1
                        else:
                            b = mid
                    if (a < n_heavy or n_heavy == n_rows) and 4 * a <= rest_postings[p - lo + 1]:
                        n_check = a
                        break
                n_touched = _visit(t, np.float64(q_data[p]), p_indptr, p_indices, p_data,
                                   acc, touched_flag, touched, n_touched)
                p -= 1
            # verification: complete the rows whose upper bound reaches the threshold
            rest_norm = np.sqrt(rest_sq[p - lo + 1])
            cut = q_indices[p + 1] if p + 1 < hi else n_terms  # every term left has a rank below cut
            level = np.searchsorted(cuts, cut)  # cuts[level] >= cut
            count = 0
            threshold = theta
            for a in range(n_touched + n_check):
                j = touched[a] if a < n_touched else heavy_order[stop_level, a - n_touched]
                if not valid[j] or j == ex or (a >= n_touched and touched_flag[j]):
                    continue
                s = acc[j]
                if p >= lo:
                    if _below(s + rest_norm * np.sqrt(np.float64(cut_sq[j, level])), threshold):
                        continue
                    s = _rest(j, s, cut, rest_norm, threshold, x_indptr, x_indices, x_data, x_cumsq,
                              q_dense)
                if s <= 0:
                    continue
                stats[i, 4] += 1
                count = _insert(best_j, best_s, count, k, j, s)
                if count == k and best_s[k - 1] > threshold:
                    threshold = best_s[k - 1]
            stats[i, 0] = hi - 1 - p
            stats[i, 1] = n_touched
            stats[i, 2] = n_check
            stats[i, 3] = hi - lo
            for b in range(count):
                out_j[i, b] = best_j[b]
                out_s[i, b] = best_s[b]
            for a in range(n_touched):
                j = touched[a]
                acc[j] = 0.0
                touched_flag[j] = False
            for e in range(lo, hi):
                q_dense[q_indices[e]] = 0.0
