"""The top-k kernel equals a dense float64 brute force, ties included.

Comparison rule (``assert_matches_brute_force``), per query:
- the number of neighbours is the same (only positive scores count), padding is -1 / -inf;
- scores agree with the brute-force scores place by place within a float32 tolerance (1e-5);
- where the returned row differs from the brute-force row at a place, the two rows must be *truly
  tied*: their float64 brute-force scores differ by at most 1e-12 (the rounding of a float64 dot
  product, far below any real score gap). A float32 near-tie that is not a float64 tie fails.
- returned rows are distinct, never excluded, never masked.
Corpora use quantised values and duplicated rows so that exact ties are common; for duplicated
rows the lower index must come first (``assert_duplicates_lower_first``).
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from recommender.cosine import Neighbours, all_pairs_top_k, postings, term_postings, top_k
from recommender.synthetic import generate_counts, generate_tfidf, texts, tfidf

SCORE_TOL = 1e-5
TIE_TOL = 1e-12


def normalise(dense: np.ndarray) -> sp.csr_matrix:
    norms = np.linalg.norm(dense, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return sp.csr_matrix((dense / norms).astype(np.float32))


def quantised_corpus(rng, n_rows, n_terms, density, *, duplicates=0.2, empty=0.05) -> sp.csr_matrix:
    """Rows with values in {1, 2, 3}, some rows copied, some empty: many exact ties."""
    dense = (rng.random((n_rows, n_terms)) < density) * rng.integers(1, 4, size=(n_rows, n_terms))
    n_dup = int(duplicates * n_rows)
    if n_dup and n_rows > 1:
        dense[rng.integers(0, n_rows, n_dup)] = dense[rng.integers(0, n_rows, n_dup)]
    dense[rng.random(n_rows) < empty] = 0
    return normalise(dense.astype(np.float64))


def brute_force(queries, rows, k, exclude=None, mask=None) -> tuple[Neighbours, np.ndarray]:
    scores = queries.toarray().astype(np.float64) @ rows.toarray().astype(np.float64).T
    allowed = scores > 0
    if mask is not None:
        allowed &= np.asarray(mask, dtype=bool)[None, :]
    if exclude is not None:
        has = np.flatnonzero(np.asarray(exclude) >= 0)
        allowed[has, np.asarray(exclude)[has]] = False
    indices = np.full((scores.shape[0], k), -1, dtype=np.int64)
    best = np.full((scores.shape[0], k), -np.inf)
    for i in range(scores.shape[0]):
        cols = np.flatnonzero(allowed[i])
        order = cols[np.lexsort((cols, -scores[i, cols]))][:k]
        indices[i, : order.size] = order
        best[i, : order.size] = scores[i, order]
    return Neighbours(indices, best), scores


def assert_matches_brute_force(got, queries, rows, k, exclude=None, mask=None):
    expected, full = brute_force(queries, rows, k, exclude, mask)
    assert got.indices.shape == got.scores.shape == (queries.shape[0], k)
    assert got.indices.dtype == np.int64 and got.scores.dtype == np.float32
    np.testing.assert_array_equal(got.indices == -1, expected.indices == -1)
    assert np.all(np.isneginf(got.scores[got.indices == -1]))
    present = got.indices >= 0
    np.testing.assert_allclose(got.scores[present], expected.scores[present], rtol=0, atol=SCORE_TOL)
    for i in range(queries.shape[0]):
        row = got.indices[i][present[i]]
        assert len(set(row.tolist())) == row.size
        if mask is not None:
            assert np.all(np.asarray(mask)[row])
        if exclude is not None:
            assert exclude[i] not in row
        for place in np.flatnonzero(row != expected.indices[i][present[i]]):
            a, b = row[place], expected.indices[i, place]
            assert abs(full[i, a] - full[i, b]) <= TIE_TOL, (
                f"query {i} place {place}: row {a} ({full[i, a]!r}) instead of {b} ({full[i, b]!r})")


def assert_duplicates_lower_first(got, rows):
    """Among bit-identical rows, a returned row never follows or excludes a lower valid copy."""
    keys = {}
    for j in range(rows.shape[0]):
        lo, hi = rows.indptr[j], rows.indptr[j + 1]
        keys.setdefault((rows.indices[lo:hi].tobytes(), rows.data[lo:hi].tobytes()), []).append(j)
    for i in range(got.indices.shape[0]):
        place = {j: p for p, j in enumerate(got.indices[i]) if j >= 0}
        for j, p in place.items():
            lo, hi = rows.indptr[j], rows.indptr[j + 1]
            for other in keys[(rows.indices[lo:hi].tobytes(), rows.data[lo:hi].tobytes())]:
                if other < j and other in place:
                    assert place[other] < p


SHAPES = [(40, 12, 0.3), (150, 60, 0.08), (300, 800, 0.01), (120, 15, 0.6), (1, 5, 0.5), (25, 400, 0.002)]


@pytest.mark.parametrize("n_rows,n_terms,density", SHAPES)
@pytest.mark.parametrize("k", [1, 3, 10, 500])
@pytest.mark.parametrize("tile_rows", [1, 7, 64, 2**17])
def test_all_pairs_equals_brute_force(n_rows, n_terms, density, k, tile_rows):
    rng = np.random.default_rng(n_rows * 7 + k)
    rows = quantised_corpus(rng, n_rows, n_terms, density)
    got = all_pairs_top_k(rows, k, tile_rows=tile_rows)
    assert_matches_brute_force(got, rows, rows, k, exclude=np.arange(n_rows))
    assert_duplicates_lower_first(got, rows)


@pytest.mark.parametrize("n_rows,n_terms,density", SHAPES)
def test_queries_with_exclude_and_mask(n_rows, n_terms, density):
    rng = np.random.default_rng(n_rows)
    rows = quantised_corpus(rng, n_rows, n_terms, density)
    queries = sp.vstack([quantised_corpus(rng, 30, n_terms, density), rows[: min(10, n_rows)]]).tocsr()
    exclude = np.where(rng.random(queries.shape[0]) < 0.5, rng.integers(0, n_rows, queries.shape[0]), -1)
    mask = rng.random(n_rows) < 0.7
    for k, tile_rows in ((1, 2**17), (4, 2**17), (n_rows + 3, 2**17), (4, 16), (n_rows + 3, 5)):
        got = top_k(queries, postings(rows, tile_rows=tile_rows), k, exclude=exclude, mask=mask)
        assert_matches_brute_force(got, queries, rows, k, exclude=exclude, mask=mask)
        assert_duplicates_lower_first(got, rows)


def test_continuous_values_and_small_blocks_and_threads():
    rng = np.random.default_rng(3)
    dense = (rng.random((400, 200)) < 0.05) * rng.random((400, 200))
    rows = normalise(dense)
    reference = all_pairs_top_k(rows, 7)
    assert_matches_brute_force(reference, rows, rows, 7, exclude=np.arange(400))
    for options in ({"block_bytes": 1}, {"block_bytes": 5000}, {"n_threads": 1}, {"tile_rows": 33},
                    {"tile_rows": 1, "n_threads": 1}):
        got = all_pairs_top_k(rows, 7, **options)
        np.testing.assert_array_equal(got.indices, reference.indices)
        np.testing.assert_array_equal(got.scores, reference.scores)


def test_all_tied_rows_come_back_by_index():
    rows = normalise(np.ones((20, 3)))
    got = all_pairs_top_k(rows, 5)
    np.testing.assert_array_equal(got.indices[0], [1, 2, 3, 4, 5])
    np.testing.assert_array_equal(got.indices[7], [0, 1, 2, 3, 4])
    np.testing.assert_allclose(got.scores, 1.0, atol=SCORE_TOL)


def test_postings_of_an_inverted_matrix_share_its_arrays_and_search_the_same():
    rows = quantised_corpus(np.random.default_rng(4), 90, 40, 0.1)
    by_term = rows.T.tocsr()
    by_term.sort_indices()
    shared = term_postings(by_term, rows.shape[0], tile_rows=16)
    assert np.shares_memory(shared.rows, by_term.indices) and np.shares_memory(shared.values, by_term.data)
    expected = top_k(rows, rows, 5, exclude=np.arange(90))
    for index in (shared, postings(rows, tile_rows=16), postings(rows)):
        got = top_k(rows, index, 5, exclude=np.arange(90))
        np.testing.assert_array_equal(got.indices, expected.indices)
        np.testing.assert_array_equal(got.scores, expected.scores)


def test_empty_inputs():
    rows = quantised_corpus(np.random.default_rng(0), 10, 5, 0.5)
    none = top_k(sp.csr_matrix((0, 5), dtype=np.float32), rows, 3)
    assert none.indices.shape == (0, 3)
    no_rows = top_k(rows, sp.csr_matrix((0, 5), dtype=np.float32), 3)
    assert np.all(no_rows.indices == -1) and np.all(np.isneginf(no_rows.scores))
    zero_query = top_k(sp.csr_matrix((2, 5), dtype=np.float32), rows, 3)
    assert np.all(zero_query.indices == -1)


def test_bad_arguments_are_named():
    rows = quantised_corpus(np.random.default_rng(0), 10, 5, 0.5)
    with pytest.raises(ValueError, match="k must be at least 1, got 0"):
        top_k(rows, rows, 0)
    with pytest.raises(ValueError, match="columns"):
        top_k(rows[:, :4], rows, 2)
    with pytest.raises(ValueError, match="exclude must have shape"):
        top_k(rows, rows, 2, exclude=np.arange(3))
    with pytest.raises(ValueError, match="mask must have shape"):
        top_k(rows, rows, 2, mask=np.ones(3, dtype=bool))
    with pytest.raises(ValueError, match="tile_rows must be at least 1, got 0"):
        postings(rows, tile_rows=0)


def test_inputs_are_not_modified():
    rows = quantised_corpus(np.random.default_rng(1), 50, 30, 0.2)
    before = rows.copy()
    all_pairs_top_k(rows, 3)
    assert (rows != before).nnz == 0


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 12), st.integers(1, 8), st.integers(1, 6), st.data())
def test_hypothesis_small_matrices(n_rows, n_terms, k, data):
    values = data.draw(st.lists(st.integers(0, 3), min_size=n_rows * n_terms, max_size=n_rows * n_terms))
    rows = normalise(np.array(values, dtype=np.float64).reshape(n_rows, n_terms))
    tile_rows = data.draw(st.integers(1, 13))
    got = all_pairs_top_k(rows, k, tile_rows=tile_rows)
    assert_matches_brute_force(got, rows, rows, k, exclude=np.arange(n_rows))
    assert_duplicates_lower_first(got, rows)


def test_synthetic_corpus_all_pairs_equals_brute_force():
    rows, labels = generate_tfidf(400, vocab_size=3000, n_stop_words=20, docs_per_story=8)
    got = all_pairs_top_k(rows, 10, tile_rows=128)
    assert_matches_brute_force(got, rows, rows, 10, exclude=np.arange(400))
    # planted stories: the nearest neighbour is mostly from the same story
    assert np.mean(labels[got.indices[:, 0]] == labels) > 0.8


def test_synthetic_generator_shape_and_seed():
    a = generate_counts(300, vocab_size=2000, n_stop_words=10, seed=5)
    b = generate_counts(300, vocab_size=2000, n_stop_words=10, seed=5)
    assert (a.counts != b.counts).nnz == 0 and np.array_equal(a.labels, b.labels)
    lengths = np.asarray(a.counts.sum(axis=1)).ravel()
    assert lengths.max() <= 600 and lengths.min() >= 100  # 200-600 tokens before stop words
    x = tfidf(a.counts)
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
    np.testing.assert_allclose(norms[norms > 0], 1.0, atol=1e-5)
    assert x.dtype == np.float32
    docs = texts(generate_counts(5, vocab_size=500, n_stop_words=5, seed=1))
    assert len(docs) == 5 and all(0 < len(d.split()) <= 600 for d in docs)
